package preflight

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cluster"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
)

func obj(apiVersion, kind, ns, name string, labels map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	if labels != nil {
		u.SetLabels(labels)
	}
	return u
}

// Upstream's adapter manifest uses our names: preflight says to adopt it
// with --force-conflicts, not to uninstall prometheus-adapter.
func TestUpstreamAdapterInstalled(t *testing.T) {
	api := obj("apiregistration.k8s.io/v1", "APIService", "", "v1beta1.custom.metrics.k8s.io", nil)
	dep := obj("apps/v1", "Deployment", identity.DefaultNamespace, identity.DefaultKSA, nil)
	liveAPI := api.DeepCopy()
	_ = unstructured.SetNestedField(liveAPI.Object, identity.DefaultNamespace, "spec", "service", "namespace")
	_ = unstructured.SetNestedField(liveAPI.Object, identity.DefaultKSA, "spec", "service", "name")
	liveDep := dep.DeepCopy()
	liveDep.SetLabels(map[string]string{"k8s-app": "custom-metrics-stackdriver-adapter"})
	r := &Result{lives: map[*unstructured.Unstructured]live{api: {obj: liveAPI}, dep: {obj: liveDep}}}
	in := Input{Objects: []*unstructured.Unstructured{api, dep}}
	checkAPIServices(context.Background(), cluster.Env{}, in, r)
	checkForeign(context.Background(), cluster.Env{}, in, r)
	if len(r.Checks) != 2 {
		t.Fatalf("%d checks: %+v", len(r.Checks), r.Checks)
	}
	for _, c := range r.Checks {
		if c.OK {
			t.Errorf("%s passed: %s", c.Name, c.Detail)
		}
		if !strings.Contains(c.Fix, "adopt it with --force-conflicts") || strings.Contains(c.Fix, "prometheus-adapter") {
			t.Errorf("%s: fix %q, want adopt it with --force-conflicts", c.Name, c.Fix)
		}
	}
	if !strings.Contains(r.Checks[0].Detail, "upstream's") {
		t.Errorf("APIService detail %q does not name upstream's adapter", r.Checks[0].Detail)
	}
	// A different owner keeps the generic advice.
	liveAPI2 := api.DeepCopy()
	_ = unstructured.SetNestedField(liveAPI2.Object, "monitoring", "spec", "service", "namespace")
	_ = unstructured.SetNestedField(liveAPI2.Object, "prometheus-adapter", "spec", "service", "name")
	r = &Result{lives: map[*unstructured.Unstructured]live{api: {obj: liveAPI2}}}
	checkAPIServices(context.Background(), cluster.Env{}, Input{Objects: []*unstructured.Unstructured{api}}, r)
	if c := r.Checks[0]; c.OK || strings.Contains(c.Fix, "adopt it") {
		t.Errorf("foreign adapter: %+v", c)
	}
}
