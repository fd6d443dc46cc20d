package discover

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
)

func TestGKEVersionAtLeast(t *testing.T) {
	for v, want := range map[string]bool{
		"v1.35.1-gke.1396000": true, "v1.35.1-gke.1395999": false, "v1.35.2-gke.1000": true,
		"v1.35.0-gke.9999999": false, "v1.36.0-gke.100": true, "v1.34.9-gke.2000000": false,
		"v1.37.2": false, "v2.0.0-gke.1": true, "": false,
	} {
		if got := GKEVersionAtLeast(v, NativeMinVersion); got != want {
			t.Errorf("GKEVersionAtLeast(%q) = %v, want %v", v, got, want)
		}
	}
}

func cluster(ver string, kind bool) *fakediscovery.FakeDiscovery {
	c := kubefake.NewClientset()
	d := c.Discovery().(*fakediscovery.FakeDiscovery)
	d.FakedServerVersion = &version.Info{GitVersion: ver}
	if kind {
		d.Resources = []*metav1.APIResourceList{{GroupVersion: NativeGroupVersion,
			APIResources: []metav1.APIResource{{Name: "autoscalingmetrics", Kind: NativeKind, Namespaced: true}}}}
	}
	return d
}

func TestDetectNative(t *testing.T) {
	cases := []struct {
		ver    string
		kind   bool
		native bool
		why    string
	}{
		{"v1.35.2-gke.1485000", true, true, "GKE v1.35.2-gke.1485000, AutoscalingMetric served; the HPA needs the performance profile: check it with gcloud"},
		{"v1.35.2-gke.1485000", false, false, "does not serve autoscaling.gke.io/v1beta1 AutoscalingMetric"},
		{"v1.34.5-gke.1000", true, false, "is below v1.35.1-gke.1396000"},
		{"v1.37.2", false, false, "v1.37.2 is not GKE v1.35.1-gke.1396000 or later"},
	}
	for _, c := range cases {
		n, err := DetectNative(cluster(c.ver, c.kind))
		if err != nil {
			t.Fatal(err)
		}
		native, why := n.Native()
		if native != c.native || !strings.Contains(why, c.why) {
			t.Errorf("%s kind=%v: native %v (%s), want %v containing %q", c.ver, c.kind, native, why, c.native, c.why)
		}
		if err := n.RequireNative(); (err == nil) != c.kind {
			t.Errorf("%s kind=%v: RequireNative %v", c.ver, c.kind, err)
		}
	}
	err := NativeSupport{Version: "v1.37.2"}.RequireNative()
	if err == nil || !strings.Contains(err.Error(), "--path native: the cluster (v1.37.2) does not serve autoscaling.gke.io/v1beta1 AutoscalingMetric") || !strings.Contains(err.Error(), "use --path adapter") {
		t.Errorf("RequireNative: %v", err)
	}
}

// GKE's launch stages: Preview from v1.35.1-gke.1396000 ("Expose custom
// metrics for autoscaling"), without the Preview's per-cluster limit from
// v1.37.0-gke.3100000 ("Autoscale Pods by using custom or external
// metrics").
func TestNativeStages(t *testing.T) {
	for _, c := range []struct {
		ver     string
		ga      bool
		max     int
		preview bool
	}{
		{"v1.35.2-gke.1485000", false, 20, true},
		{"v1.36.4-gke.1247000", false, 20, true},
		{"v1.37.0-gke.3099999", false, 20, true},
		{"v1.37.0-gke.3100000", true, 0, false},
		{"v1.38.1-gke.100", true, 0, false},
	} {
		n, err := DetectNative(cluster(c.ver, true))
		if err != nil {
			t.Fatal(err)
		}
		native, why := n.Native()
		if !native || n.GA != c.ga || n.MaxMetrics() != c.max || strings.Contains(why, "Preview below v1.37.0-gke.3100000: at most 20 unique metrics per cluster") != c.preview {
			t.Errorf("%s: native %v, GA %v, max %d, why %q", c.ver, native, n.GA, n.MaxMetrics(), why)
		}
	}
}
