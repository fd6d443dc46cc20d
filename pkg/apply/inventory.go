package apply

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ConfigMapGVR is the parent's resource.
var ConfigMapGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// Prepare returns copies of objs labelled as members of the set and
// stamped with their applied-hash: exactly what setup applies.
func (s ApplySet) Prepare(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		c := o.DeepCopy()
		s.Label(c)
		Stamp(c)
		out[i] = c
	}
	return out
}

// ReadParent returns the live parent ConfigMap, nil if there is none. A
// ConfigMap of that name that is not our ApplySet parent is an error.
func (c Clients) ReadParent(ctx context.Context, s ApplySet) (*unstructured.Unstructured, error) {
	live, err := c.Dynamic.Resource(ConfigMapGVR).Namespace(s.Namespace).Get(ctx, s.Name, metav1GetOptions)
	if ignoreNotFound(err) != nil {
		return nil, fmt.Errorf("reading the inventory %s: %w", s, err)
	}
	if err != nil {
		return nil, nil
	}
	if live.GetLabels()[LabelID] != s.ID() || live.GetAnnotations()[AnnotationTooling] != Tooling {
		return nil, fmt.Errorf("%s exists but is not an infer-hpa inventory (no %s=%s label): rename the HPA with --hpa-name or remove that ConfigMap", s, LabelID, s.ID())
	}
	return live, nil
}

// Members lists the live objects of the set among the given group-kinds
// and namespaces: labelled part-of=ID and managed-by=kubectl-infer-hpa.
// Kinds the cluster no longer serves are skipped.
func (c Clients) Members(ctx context.Context, s ApplySet, gks []schema.GroupKind, namespaces []string) ([]*unstructured.Unstructured, error) {
	sel := labels.Set{LabelPartOf: s.ID(), LabelManagedBy: ManagedBy}.AsSelector().String()
	return c.listLabelled(ctx, gks, uniqueSorted(append([]string{s.Namespace}, namespaces...)), sel)
}

func (c Clients) listLabelled(ctx context.Context, gks []schema.GroupKind, namespaces []string, sel string) ([]*unstructured.Unstructured, error) {
	seen := map[schema.GroupKind]bool{}
	var out []*unstructured.Unstructured
	for _, gk := range gks {
		if seen[gk] {
			continue
		}
		seen[gk] = true
		m, err := c.Mapper.RESTMapping(gk)
		if meta.IsNoMatchError(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		scopes := []string{""}
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			scopes = namespaces
		}
		for _, ns := range scopes {
			list, err := c.resourceIn(m, ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
			if err != nil {
				return nil, fmt.Errorf("listing %s of the inventory: %w", gk, err)
			}
			for i := range list.Items {
				item := list.Items[i]
				item.SetGroupVersionKind(m.GroupVersionKind)
				out = append(out, &item)
			}
		}
	}
	return out, nil
}

func key(obj *unstructured.Unstructured) string {
	return obj.GroupVersionKind().GroupKind().String() + "/" + obj.GetNamespace() + "/" + obj.GetName()
}

func unionGKs(a, b []schema.GroupKind) []schema.GroupKind {
	seen := map[schema.GroupKind]bool{}
	var out []schema.GroupKind
	for _, gk := range append(append([]schema.GroupKind{}, a...), b...) {
		if !seen[gk] {
			seen[gk] = true
			out = append(out, gk)
		}
	}
	return out
}

// footprintOf reads a parent's group-kinds and namespaces.
func footprintOf(parent *unstructured.Unstructured) ([]schema.GroupKind, []string) {
	if parent == nil {
		return nil, nil
	}
	a := parent.GetAnnotations()
	return ParseGroupKinds(a[AnnotationGroupKinds]), ParseNamespaces(a[AnnotationNamespaces])
}
