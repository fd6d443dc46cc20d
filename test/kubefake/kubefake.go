// Package kubefake is the fast test tier between pure functions and the
// twin: a client-go fake clientset (access reviews allowed unless a test
// denies them, API discovery of Managed Prometheus' kinds) and a fake
// dynamic client with a REST mapper that knows every kind setup plans.
// Tests drive planning and preflight with it in milliseconds.
package kubefake

import (
	"strconv"
	"strings"
	"sync/atomic"

	authv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// Kind is one kind the fake cluster serves.
type Kind struct {
	GVK        schema.GroupVersionKind
	Resource   string
	Namespaced bool
}

// Kinds are the kinds setup plans, reads or lists.
var Kinds = []Kind{
	{schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, "namespaces", false},
	{schema.GroupVersionKind{Version: "v1", Kind: "Node"}, "nodes", false},
	{schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, "pods", true},
	{schema.GroupVersionKind{Version: "v1", Kind: "ServiceAccount"}, "serviceaccounts", true},
	{schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, "configmaps", true},
	{schema.GroupVersionKind{Version: "v1", Kind: "Secret"}, "secrets", true},
	{schema.GroupVersionKind{Version: "v1", Kind: "Service"}, "services", true},
	{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, "deployments", true},
	{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"}, "daemonsets", true},
	{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}, "clusterroles", false},
	{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBinding"}, "clusterrolebindings", false},
	{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"}, "roles", true},
	{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"}, "rolebindings", true},
	{schema.GroupVersionKind{Group: "apiregistration.k8s.io", Version: "v1", Kind: "APIService"}, "apiservices", false},
	{schema.GroupVersionKind{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"}, "horizontalpodautoscalers", true},
	{schema.GroupVersionKind{Group: "monitoring.googleapis.com", Version: "v1", Kind: "PodMonitoring"}, "podmonitorings", true},
	{schema.GroupVersionKind{Group: "monitoring.googleapis.com", Version: "v1", Kind: "ClusterPodMonitoring"}, "clusterpodmonitorings", false},
	{schema.GroupVersionKind{Group: "monitoring.googleapis.com", Version: "v1", Kind: "Rules"}, "rules", true},
	{schema.GroupVersionKind{Group: "monitoring.googleapis.com", Version: "v1", Kind: "ClusterRules"}, "clusterrules", false},
}

// Cluster is a fake cluster: the typed and the dynamic client keep
// separate objects (give each what the code under test reads with it).
type Cluster struct {
	Kube    *fake.Clientset
	Dynamic *dynamicfake.FakeDynamicClient
	Mapper  meta.RESTMapper
	// Deny, when set, answers access reviews: true denies.
	Deny func(authv1.ResourceAttributes) bool
	// Reviews counts the access reviews asked.
	Reviews atomic.Int32
}

// New returns a cluster holding typed objects (for the clientset) and
// unstructured ones (for the dynamic client).
func New(typed []runtime.Object, dyn ...*unstructured.Unstructured) *Cluster {
	c := &Cluster{Kube: fake.NewClientset(typed...)}
	var gvs []schema.GroupVersion
	for _, k := range Kinds {
		gvs = append(gvs, k.GVK.GroupVersion())
	}
	// With default versions, a kind maps without one too (as the
	// discovery mapper does), which listing an inventory's kinds needs.
	mapper := meta.NewDefaultRESTMapper(gvs)
	listKinds := map[schema.GroupVersionResource]string{}
	served := map[string]*metav1.APIResourceList{}
	for _, k := range Kinds {
		scope := meta.RESTScopeRoot
		if k.Namespaced {
			scope = meta.RESTScopeNamespace
		}
		gvr := k.GVK.GroupVersion().WithResource(k.Resource)
		mapper.AddSpecific(k.GVK, gvr, gvr.GroupVersion().WithResource(strings.TrimSuffix(k.Resource, "s")), scope)
		listKinds[gvr] = k.GVK.Kind + "List"
		gv := k.GVK.GroupVersion().String()
		if served[gv] == nil {
			served[gv] = &metav1.APIResourceList{GroupVersion: gv}
		}
		served[gv].APIResources = append(served[gv].APIResources, metav1.APIResource{Name: k.Resource, Kind: k.GVK.Kind, Namespaced: k.Namespaced})
	}
	c.Mapper = mapper
	objs := make([]runtime.Object, len(dyn))
	for i, o := range dyn {
		objs[i] = o
	}
	c.Dynamic = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds, objs...)
	c.Dynamic.PrependReactor("patch", "*", c.serverSideApply)
	disc := c.Kube.Discovery().(*fakediscovery.FakeDiscovery)
	for _, l := range served {
		disc.Resources = append(disc.Resources, l)
	}
	c.Kube.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		review := a.(k8stesting.CreateAction).GetObject().(*authv1.SelfSubjectAccessReview)
		out := review.DeepCopy()
		c.Reviews.Add(1)
		attrs := authv1.ResourceAttributes{}
		if review.Spec.ResourceAttributes != nil {
			attrs = *review.Spec.ResourceAttributes
		}
		out.Status.Allowed = c.Deny == nil || !c.Deny(attrs)
		return true, out, nil
	})
	return c
}

// Unserve drops a group version from the API discovery (a cluster
// without Managed Prometheus, say).
func (c *Cluster) Unserve(groupVersion string) {
	disc := c.Kube.Discovery().(*fakediscovery.FakeDiscovery)
	var kept []*metav1.APIResourceList
	for _, l := range disc.Resources {
		if l.GroupVersion != groupVersion {
			kept = append(kept, l)
		}
	}
	disc.Resources = kept
}

// Object is an unstructured object for the dynamic client.
func Object(apiVersion, kind, namespace, name string, labels map[string]string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	u.SetNamespace(namespace)
	u.SetName(name)
	if labels != nil {
		u.SetLabels(labels)
	}
	if spec != nil {
		u.Object["spec"] = spec
	}
	return u
}

// serverSideApply answers apply patches, which the fake dynamic client
// refuses for objects that do not exist: it creates the object, or merges
// the patch into the live one (maps key by key, lists replaced), and with
// a dry run stores nothing. There are no managed fields, so no conflicts.
func (c *Cluster) serverSideApply(a k8stesting.Action) (bool, runtime.Object, error) {
	p, ok := a.(k8stesting.PatchActionImpl)
	if !ok || p.GetPatchType() != types.ApplyPatchType {
		return false, nil, nil
	}
	desired := &unstructured.Unstructured{}
	if err := desired.UnmarshalJSON(p.GetPatch()); err != nil {
		return true, nil, apierrors.NewBadRequest(err.Error())
	}
	gvr, ns, dry := p.GetResource(), p.GetNamespace(), len(p.GetPatchOptions().DryRun) > 0
	tracker := c.Dynamic.Tracker()
	old, err := tracker.Get(gvr, ns, p.GetName())
	if apierrors.IsNotFound(err) {
		desired.SetNamespace(ns)
		desired.SetResourceVersion("1")
		if !dry {
			err = tracker.Create(gvr, desired, ns)
		}
		return true, desired, err
	}
	if err != nil {
		return true, nil, err
	}
	live, err := runtime.DefaultUnstructuredConverter.ToUnstructured(old)
	if err != nil {
		return true, nil, err
	}
	merged := &unstructured.Unstructured{Object: mergeMaps(live, desired.Object)}
	if !dry {
		rv, _ := strconv.Atoi(merged.GetResourceVersion())
		merged.SetResourceVersion(strconv.Itoa(rv + 1))
		err = tracker.Update(gvr, merged, ns)
	}
	return true, merged, err
}

func mergeMaps(live, patch map[string]any) map[string]any {
	out := make(map[string]any, len(live))
	for k, v := range live {
		out[k] = v
	}
	for k, v := range patch {
		pm, pok := v.(map[string]any)
		lm, lok := out[k].(map[string]any)
		switch {
		case v == nil:
			delete(out, k)
		case pok && lok:
			out[k] = mergeMaps(lm, pm)
		default:
			out[k] = v
		}
	}
	return out
}
