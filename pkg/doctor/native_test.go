package doctor

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

const nativeMt = "autoscaling.gke.io|vllm-vllm|num-requests-running"

func autoscalingMetric(name string, port int64, gauge, prom string, status map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "autoscaling.gke.io/v1beta1", "kind": "AutoscalingMetric",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{"metrics": []any{map[string]any{"pod": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "vllm"}},
			"containers": []any{map[string]any{
				"endpoint": map[string]any{"port": port, "path": "/metrics"},
				"metrics":  []any{map[string]any{"gauge": map[string]any{"name": gauge, "prometheusMetricName": prom}}},
			}},
		}}}},
	}}
	if status != nil {
		u.Object["status"] = status
	}
	return u
}

// nativeWorld is the chain of the GKE-native path: an AutoscalingMetric,
// GKE's managed metrics adapter behind custom.metrics.k8s.io, the HPA; no
// adapter, PodMonitoring or IAM of ours.
func nativeWorld(t *testing.T) *world {
	w := newWorld(t)
	var objs []runtime.Object
	for _, o := range w.objs {
		switch o.(type) {
		case *corev1.ServiceAccount, *corev1.ConfigMap:
			continue
		}
		if m, err := metaOf(o); err == nil && (m.GetNamespace() == "custom-metrics" || m.GetName() == adapterName) {
			continue
		}
		objs = append(objs, o)
	}
	w.objs = objs
	w.set(hpa(nativeMt, 3, 2.5))
	w.dyn = []runtime.Object{
		autoscalingMetric("vllm-vllm", 8000, "num-requests-running", "vllm:num_requests_running", nil),
		apiService("v1beta1.custom.metrics.k8s.io", "kube-system", "gke-managed-metrics", "True", ""),
		apiService("v1beta2.custom.metrics.k8s.io", "kube-system", "gke-managed-metrics", "True", ""),
	}
	w.custom = map[string]map[string]float64{nativeMt: {"vllm-a": 2.5, "vllm-b": 2.5}}
	w.series, w.logs = nil, map[string]string{}
	return w
}

func TestNativeHealthy(t *testing.T) {
	r := nativeWorld(t).run()
	if f := fails(r); len(f) != 0 || r.Path != "native" {
		t.Fatalf("native chain: path %s, fails %v\n%s", r.Path, f, table(r))
	}
	for id, want := range map[string]string{
		"native/vllm-vllm":                          "declares 1 gauge the HPA uses; GKE reports no status",
		"metrics-api/v1beta1.custom.metrics.k8s.io": "served by kube-system/gke-managed-metrics",
		"metrics-api/vllm:num_requests_running":     "serves " + nativeMt,
		"workload/metrics":                          "vllm:num_requests_running",
		"hpa/metric-names":                          nativeMt,
	} {
		if c := find(r, id); c == nil || c.Status != OK || !strings.Contains(c.Message, want) {
			t.Errorf("%s: %+v, want ok with %q\n%s", id, c, want, table(r))
		}
	}
	for _, id := range []string{"scraping/podmonitoring", "monitoring/series", "identity/mode", "adapter/deployment"} {
		if c := find(r, id); c == nil || c.Status != Skip || !strings.Contains(c.Message, "native path") {
			t.Errorf("%s: %+v, want a skip saying native path", id, c)
		}
	}
	for _, c := range r.Checks {
		if strings.HasPrefix(c.ID, "adapter/log") || strings.HasPrefix(c.ID, "identity/monitoring") || strings.HasPrefix(c.ID, "scraping/double") {
			t.Errorf("adapter-path check on the native path: %+v", c)
		}
	}
}

func TestNativeBreaks(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(w *world)
		want   string
		msg    string
	}{
		{"the AutoscalingMetric deleted", func(w *world) {
			w.dyn = w.dyn[1:]
			w.custom = nil
		}, "native/vllm-vllm", "does not exist"},
		{"the metric the AutoscalingMetric reads is not served", func(w *world) {
			w.dyn[0] = autoscalingMetric("vllm-vllm", 8000, "num-requests-running", "vllm:num_requests_runnin", nil)
			w.custom = nil
		}, "hpa/metric-names", "vllm:num_requests_runnin"},
		{"the AutoscalingMetric reads the wrong port", func(w *world) {
			w.dyn[0] = autoscalingMetric("vllm-vllm", 9090, "num-requests-running", "vllm:num_requests_running", nil)
			w.custom = nil
		}, "native/vllm-vllm", "read on port 9090, which deployment vllm neither declares nor passes to vLLM as --port (it serves on 8000)"},
		{"the HPA names a gauge the object lacks", func(w *world) {
			w.dyn[0] = autoscalingMetric("vllm-vllm", 8000, "num-requests-waiting", "vllm:num_requests_waiting", nil)
			w.custom = nil
		}, "native/vllm-vllm", `names gauge "num-requests-running", which AutoscalingMetric vllm-vllm does not declare`},
		{"GKE reports the object not ready", func(w *world) {
			w.dyn[0] = autoscalingMetric("vllm-vllm", 8000, "num-requests-running", "vllm:num_requests_running",
				map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "False", "reason": "ProfileNotEnabled", "message": "the HPA performance profile is off"}}})
			w.custom = nil
		}, "native/vllm-vllm", "Ready=False ProfileNotEnabled"},
		{"our Stackdriver adapter owns the APIServices", func(w *world) {
			w.dyn[1] = apiService("v1beta1.custom.metrics.k8s.io", "custom-metrics", adapterName, "True", "")
			w.dyn[2] = apiService("v1beta2.custom.metrics.k8s.io", "custom-metrics", adapterName, "True", "")
			w.custom = nil
		}, "metrics-api/v1beta1.custom.metrics.k8s.io,metrics-api/v1beta2.custom.metrics.k8s.io", "does not serve the HPA's autoscaling.gke.io metrics"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := nativeWorld(t)
			c.break_(w)
			r := w.run()
			if got := strings.Join(fails(r), ","); got != c.want {
				t.Fatalf("FAIL %s, want %s\n%s", got, c.want, table(r))
			}
			first := find(r, strings.Split(c.want, ",")[0])
			if !strings.Contains(first.Message, c.msg) || first.Fix == "" {
				t.Errorf("%s: %q (fix %q), want %q", first.ID, first.Message, first.Fix, c.msg)
			}
			// Without the gauge, doctor cannot tell what the HPA's metric reads.
			if c := find(r, "hpa/metric-names"); strings.Contains(c.Message, "does not exist") || strings.Contains(c.Message, "does not declare") {
				if c.Status == OK {
					t.Errorf("hpa/metric-names: %+v", c)
				}
			} else if (strings.Contains(first.Message, "does not exist") || strings.Contains(first.Message, "does not declare")) && c.Status != Skip {
				t.Errorf("hpa/metric-names with no gauge to read: %+v", c)
			}
			if api := find(r, "metrics-api/vllm:num_requests_running"); api != nil && api.Status == Fail {
				t.Errorf("the API's missing values should follow from %s: %+v", first.ID, api)
			}
		})
	}
}
