package plan

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cluster"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/discover"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"
)

func gkeEnv(ver string, kind bool, objs ...runtime.Object) cluster.Env {
	c := kubefake.NewClientset()
	d := c.Discovery().(*fakediscovery.FakeDiscovery)
	d.FakedServerVersion = &version.Info{GitVersion: ver}
	if kind {
		d.Resources = []*metav1.APIResourceList{{GroupVersion: discover.NativeGroupVersion,
			APIResources: []metav1.APIResource{{Name: "autoscalingmetrics", Kind: discover.NativeKind, Namespaced: true}}}}
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{nativeGVR: "AutoscalingMetricList"}, objs...)
	return cluster.Env{Kube: c, Clients: apply.Clients{Dynamic: dyn}}
}

// autoscalingMetric is another team's AutoscalingMetric exposing n gauges.
func autoscalingMetric(ns, name string, n int) *unstructured.Unstructured {
	var gauges []any
	for i := range n {
		gauges = append(gauges, map[string]any{"gauge": map[string]any{"name": fmt.Sprintf("g%d", i), "prometheusMetricName": fmt.Sprintf("g_%d", i)}})
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": discover.NativeGroupVersion, "kind": discover.NativeKind,
		"spec": map[string]any{"metrics": []any{map[string]any{"pod": map[string]any{
			"selector":   map[string]any{"matchLabels": map[string]any{"app": name}},
			"containers": []any{map[string]any{"endpoint": map[string]any{"port": int64(8000), "path": "/metrics"}, "metrics": gauges}},
		}}}},
	}}
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

func TestResolvePath(t *testing.T) {
	cases := []struct {
		name, path, ver string
		kind            bool
		metrics         []string
		want, note      string
		wi              identity.Mode
	}{
		{"auto on GKE 1.35.2 with the kind", kustomize.PathAuto, "v1.35.2-gke.1485000", true, nil, kustomize.PathNative,
			"path native (GKE v1.35.2-gke.1485000, AutoscalingMetric served; the HPA needs the performance profile", identity.ModeNone},
		{"auto without the kind", kustomize.PathAuto, "v1.35.2-gke.1485000", false, nil, kustomize.PathAdapter,
			"path adapter (GKE v1.35.2-gke.1485000 does not serve", identity.ModePrincipal},
		{"auto on an older GKE", kustomize.PathAuto, "v1.34.3-gke.1000", true, nil, kustomize.PathAdapter,
			"path adapter (AutoscalingMetric is served but v1.34.3-gke.1000 is below v1.35.1-gke.1396000)", identity.ModePrincipal},
		{"auto with gpu-util", kustomize.PathAuto, "v1.35.2-gke.1485000", true, []string{"running", "gpu-util"}, kustomize.PathAdapter,
			"path adapter (the cluster serves AutoscalingMetric, but --metric gpu-util is not available on --path native", identity.ModePrincipal},
		{"adapter given", kustomize.PathAdapter, "v1.35.2-gke.1485000", true, nil, kustomize.PathAdapter,
			"path adapter (--path adapter)", identity.ModePrincipal},
		{"native given", kustomize.PathNative, "v1.35.2-gke.1485000", true, nil, kustomize.PathNative,
			"path native (--path native; GKE v1.35.2-gke.1485000", identity.ModeNone},
	}
	for _, c := range cases {
		o := kustomize.NewOptions()
		o.Deployment, o.Path = "vllm", c.path
		for _, m := range c.metrics {
			o.Metrics = append(o.Metrics, kustomize.Metric{Name: m})
		}
		p := &Plan{}
		if err := p.resolvePath(context.Background(), gkeEnv(c.ver, c.kind), &o); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if o.Path != c.want || o.WIMode != c.wi || len(p.Notes) != 1 || !strings.Contains(p.Notes[0], c.note) {
			t.Errorf("%s: path %s, wi-mode %s, notes %q; want %s, %s and a note with %q", c.name, o.Path, o.WIMode, p.Notes, c.want, c.wi, c.note)
		}
	}
	o := kustomize.NewOptions()
	o.Deployment, o.Path = "vllm", kustomize.PathNative
	err := (&Plan{}).resolvePath(context.Background(), gkeEnv("v1.37.2", false), &o)
	if err == nil || !strings.Contains(err.Error(), "--path native: the cluster (v1.37.2) does not serve") {
		t.Errorf("--path native without the kind: %v", err)
	}
}

// GKE's Preview limit of 20 unique metrics per cluster counts the other
// AutoscalingMetrics' gauges: --path native over it is one line naming the
// limit and the fix, auto falls back to the adapter and says why, our own
// object's gauges are not counted (they are replaced), and from GKE
// 1.37.0-gke.3100000 on there is no per-cluster limit.
func TestResolvePathNativeLimit(t *testing.T) {
	full := []runtime.Object{autoscalingMetric("team-a", "queue", 12), autoscalingMetric("team-b", "cache", 8)}
	opts := func(path string) kustomize.Options {
		o := kustomize.NewOptions()
		o.Namespace, o.Deployment, o.Path = "serve", "vllm", path
		return o
	}
	o := opts(kustomize.PathNative)
	err := (&Plan{}).resolvePath(context.Background(), gkeEnv("v1.35.2-gke.1485000", true, full...), &o)
	want := "--path native: the cluster's other AutoscalingMetrics expose 20 unique metrics and this adds 1, over GKE's limit of 20 per cluster on v1.35.2-gke.1485000 (Preview below v1.37.0-gke.3100000)"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "or use --path adapter") || strings.Contains(err.Error(), "\n") {
		t.Errorf("--path native over the limit: %v", err)
	}

	o = opts(kustomize.PathAuto)
	p := &Plan{}
	if err := p.resolvePath(context.Background(), gkeEnv("v1.35.2-gke.1485000", true, full...), &o); err != nil {
		t.Fatal(err)
	}
	if o.Path != kustomize.PathAdapter || len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "path adapter (the cluster serves AutoscalingMetric, but --path native: the cluster's other AutoscalingMetrics expose 20") {
		t.Errorf("auto over the limit: path %s, notes %q", o.Path, p.Notes)
	}

	// Our own object (serve/vllm-vllm) is replaced, not added to.
	ours := []runtime.Object{autoscalingMetric("team-a", "queue", 19), autoscalingMetric("serve", "vllm-vllm", 3)}
	o = opts(kustomize.PathNative)
	if err := (&Plan{}).resolvePath(context.Background(), gkeEnv("v1.35.2-gke.1485000", true, ours...), &o); err != nil {
		t.Errorf("19 others + our 1: %v", err)
	}

	o = opts(kustomize.PathNative)
	p = &Plan{}
	if err := p.resolvePath(context.Background(), gkeEnv("v1.37.1-gke.1000", true, full...), &o); err != nil {
		t.Errorf("GA version with 20 others: %v", err)
	}
	if len(p.Notes) != 1 || strings.Contains(p.Notes[0], "Preview") {
		t.Errorf("GA version notes %q", p.Notes)
	}
}
