package plan

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cluster"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/discover"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"
)

func gkeEnv(ver string, kind bool) cluster.Env {
	c := kubefake.NewClientset()
	d := c.Discovery().(*fakediscovery.FakeDiscovery)
	d.FakedServerVersion = &version.Info{GitVersion: ver}
	if kind {
		d.Resources = []*metav1.APIResourceList{{GroupVersion: discover.NativeGroupVersion,
			APIResources: []metav1.APIResource{{Name: "autoscalingmetrics", Kind: discover.NativeKind, Namespaced: true}}}}
	}
	return cluster.Env{Kube: c}
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
		if err := p.resolvePath(gkeEnv(c.ver, c.kind), &o); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if o.Path != c.want || o.WIMode != c.wi || len(p.Notes) != 1 || !strings.Contains(p.Notes[0], c.note) {
			t.Errorf("%s: path %s, wi-mode %s, notes %q; want %s, %s and a note with %q", c.name, o.Path, o.WIMode, p.Notes, c.want, c.wi, c.note)
		}
	}
	o := kustomize.NewOptions()
	o.Deployment, o.Path = "vllm", kustomize.PathNative
	err := (&Plan{}).resolvePath(gkeEnv("v1.37.2", false), &o)
	if err == nil || !strings.Contains(err.Error(), "--path native: the cluster (v1.37.2) does not serve") {
		t.Errorf("--path native without the kind: %v", err)
	}
}
