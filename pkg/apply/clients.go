// Package apply puts a plan of objects on a cluster: server-side apply in
// dependency order, waits with kstatus, an ApplySet inventory with prune,
// and the reverse for cleanup.
package apply

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
)

// Clients reach the cluster; the RESTMapper turns kinds into resources.
type Clients struct {
	Dynamic dynamic.Interface
	Mapper  meta.RESTMapper
}

// Client-side rate limits: a setup is a short burst of small requests
// (kubectl's defaults of 5/10 made the access reviews alone take seconds).
const (
	QPS   = 50
	Burst = 100
)

// NewClients builds the clients from kubectl's flags.
func NewClients(g genericclioptions.RESTClientGetter) (Clients, error) {
	cfg, err := g.ToRESTConfig()
	if err != nil {
		return Clients{}, err
	}
	cfg.QPS, cfg.Burst = QPS, Burst
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return Clients{}, err
	}
	mapper, err := g.ToRESTMapper()
	if err != nil {
		return Clients{}, err
	}
	return Clients{Dynamic: dyn, Mapper: mapper}, nil
}

// Mapping finds the resource of a kind, refreshing the discovery cache once
// when the kind is unknown (a CRD may have been installed since).
func (c Clients) Mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		if r, ok := c.Mapper.(meta.ResettableRESTMapper); ok {
			r.Reset()
			m, err = c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: the cluster does not serve this kind: %w", gvk.GroupKind(), err)
	}
	return m, nil
}

// Resource is the dynamic client for obj.
func (c Clients) Resource(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	m, err := c.Mapping(obj.GroupVersionKind())
	if err != nil {
		return nil, err
	}
	return c.resourceIn(m, obj.GetNamespace()), nil
}

func (c Clients) resourceIn(m *meta.RESTMapping, namespace string) dynamic.ResourceInterface {
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return c.Dynamic.Resource(m.Resource).Namespace(namespace)
	}
	return c.Dynamic.Resource(m.Resource)
}

// Get reads the live object; nil when it does not exist.
func (c Clients) Get(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ri, err := c.Resource(obj)
	if err != nil {
		return nil, err
	}
	live, err := ri.Get(ctx, obj.GetName(), metav1GetOptions)
	if ignoreNotFound(err) != nil {
		return nil, fmt.Errorf("reading %s: %w", Ref(obj), err)
	}
	if err != nil {
		return nil, nil
	}
	return live, nil
}

// Ref names an object as kubectl prints it: kind.group/name.
func Ref(obj *unstructured.Unstructured) string {
	return RefOf(obj.GroupVersionKind().GroupKind(), obj.GetName())
}

// RefOf names a kind and name as kubectl prints it.
func RefOf(gk schema.GroupKind, name string) string {
	k := strings.ToLower(gk.Kind)
	if gk.Group != "" {
		k += "." + gk.Group
	}
	return k + "/" + name
}
