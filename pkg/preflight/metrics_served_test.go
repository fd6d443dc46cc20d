package preflight

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cluster"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"
)

const (
	modernMetrics = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 0.0
vllm:num_requests_waiting{engine="0",model_name="m"} 0.0
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.1
`
	oldMetrics = `vllm:num_requests_running{model_name="m"} 0.0
vllm:num_requests_waiting{model_name="m"} 0.0
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{model_name="m"} 0.1
`
)

// apiserver is the part of an apiserver the check talks to: the pod list and the pod proxy (which a fake clientset cannot
// serve), over real HTTP.
type apiserver struct {
	pods       []corev1.Pod
	metrics    string // served at pods/NAME:8000/proxy/metrics
	proxyCode  int    // non-zero: the proxy answers this instead
	denyProxy  bool
	proxyCalls int
}

func (a *apiserver) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == "GET" && r.URL.Path == "/api/v1/namespaces/ns/pods":
		if r.URL.Query().Get("labelSelector") != "app=vllm" {
			http.Error(w, "bad selector "+r.URL.Query().Get("labelSelector"), 400)
			return
		}
		_ = json.NewEncoder(w).Encode(corev1.PodList{Items: a.pods})
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/api/v1/namespaces/ns/pods/vllm-ready:8000/proxy/"):
		a.proxyCalls++
		if a.denyProxy {
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(metav1.Status{Status: metav1.StatusFailure, Reason: metav1.StatusReasonForbidden, Code: http.StatusForbidden,
				Message: `pods "vllm-ready:8000" is forbidden: User "u" cannot get resource "pods/proxy" in API group "" in the namespace "ns"`})
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		if a.proxyCode != 0 {
			w.WriteHeader(a.proxyCode)
			_, _ = w.Write([]byte("nope"))
			return
		}
		if r.URL.Path != "/api/v1/namespaces/ns/pods/vllm-ready:8000/proxy/metrics" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(a.metrics))
	default:
		http.Error(w, "unexpected "+r.Method+" "+r.URL.String(), 500)
	}
}

func pod(name string, ready bool) corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"app": "vllm"}},
		Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}}}
}

func runMetricsCheck(t *testing.T, a *apiserver, metrics ...string) (*Result, Input) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(srv.Close)
	kube, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL, ContentConfig: rest.ContentConfig{ContentType: "application/json"}})
	if err != nil {
		t.Fatal(err)
	}
	o := kustomize.NewOptions()
	o.Namespace, o.Deployment, o.PodSelector = "ns", "vllm", map[string]string{"app": "vllm"}
	for _, m := range metrics {
		o.Metrics = append(o.Metrics, kustomize.Metric{Name: m})
	}
	o.Complete()
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "vllm", Namespace: "ns"}}
	in := Input{Options: o, Deployment: d}
	r := &Result{}
	checkMetricsServed(context.Background(), cluster.Env{Kube: kube}, in, r)
	if len(r.Checks) != 1 {
		t.Fatalf("checks %+v", r.Checks)
	}
	return r, in
}

func TestMetricsServed(t *testing.T) {
	a := &apiserver{pods: []corev1.Pod{pod("vllm-starting", false), pod("vllm-ready", true)}, metrics: modernMetrics}
	r, _ := runMetricsCheck(t, a, "running", "waiting", "kv-cache", "gpu-util")
	if c := r.Checks[0]; !c.OK || c.Warn || !strings.Contains(c.Detail, "pod vllm-ready serves vllm:kv_cache_usage_perc, vllm:num_requests_running, vllm:num_requests_waiting") {
		t.Errorf("%+v", c)
	}
	if len(r.MetricRenames) != 0 {
		t.Errorf("renames %v", r.MetricRenames)
	}
}

// TestMetricsServedLegacyKVCache: a vLLM from before the rename serves
// vllm:gpu_cache_usage_perc only; the HPA is rewritten to it, with a note.
func TestMetricsServedLegacyKVCache(t *testing.T) {
	a := &apiserver{pods: []corev1.Pod{pod("vllm-ready", true)}, metrics: oldMetrics}
	r, _ := runMetricsCheck(t, a, "running", "kv-cache")
	c := r.Checks[0]
	if !c.OK || !strings.Contains(c.Detail, "the HPA uses vllm:gpu_cache_usage_perc") {
		t.Fatalf("%+v", c)
	}
	hpa := &unstructured.Unstructured{Object: map[string]any{"kind": "HorizontalPodAutoscaler", "spec": map[string]any{"metrics": []any{
		map[string]any{"type": "Pods", "pods": map[string]any{"metric": map[string]any{"name": "prometheus.googleapis.com|vllm:num_requests_running|gauge"}}},
		map[string]any{"type": "Pods", "pods": map[string]any{"metric": map[string]any{"name": "prometheus.googleapis.com|vllm:kv_cache_usage_perc|gauge"}}},
	}}}}
	r.RenameMetrics([]*unstructured.Unstructured{hpa})
	ms, _, _ := unstructured.NestedSlice(hpa.Object, "spec", "metrics")
	names := []string{}
	for _, m := range ms {
		n, _, _ := unstructured.NestedString(m.(map[string]any), "pods", "metric", "name")
		names = append(names, n)
	}
	if strings.Join(names, " ") != "prometheus.googleapis.com|vllm:num_requests_running|gauge prometheus.googleapis.com|vllm:gpu_cache_usage_perc|gauge" {
		t.Errorf("HPA metrics after rename: %v", names)
	}
}

func TestMetricsServedMissing(t *testing.T) {
	a := &apiserver{pods: []corev1.Pod{pod("vllm-ready", true)}, metrics: "vllm:num_requests_running 0\n"}
	r, _ := runMetricsCheck(t, a, "running", "waiting")
	if c := r.Checks[0]; c.OK || !strings.Contains(c.Detail, "does not serve vllm:num_requests_waiting") || c.Fix == "" {
		t.Errorf("%+v", c)
	}
}

// A port that answers something other than Prometheus text (a web page):
// the check fails and says the body is not an exposition.
func TestMetricsServedNotPrometheus(t *testing.T) {
	a := &apiserver{pods: []corev1.Pod{pod("vllm-ready", true)}, metrics: "<html><body>hello</body></html>\n"}
	r, _ := runMetricsCheck(t, a, "running")
	if c := r.Checks[0]; c.OK || !strings.Contains(c.Detail, "does not serve vllm:num_requests_running") ||
		!strings.Contains(c.Detail, "not Prometheus text exposition") || strings.Contains(c.Detail, "\n") {
		t.Errorf("%+v", c)
	}
}

func TestMetricsServedWarnings(t *testing.T) {
	cases := map[string]struct {
		a    *apiserver
		want string
	}{
		"not ready":   {&apiserver{pods: []corev1.Pod{pod("vllm-starting", false)}, metrics: modernMetrics}, "no vLLM pod of deployment vllm is Ready yet (1 pods)"},
		"no proxy":    {&apiserver{pods: []corev1.Pod{pod("vllm-ready", true)}, metrics: modernMetrics, denyProxy: true}, "not allowed to get pods/proxy in ns"},
		"unreachable": {&apiserver{pods: []corev1.Pod{pod("vllm-ready", true)}, proxyCode: 503}, "cannot read /metrics of pod vllm-ready on port 8000 through the apiserver"},
	}
	for name, tc := range cases {
		r, _ := runMetricsCheck(t, tc.a, "running")
		if c := r.Checks[0]; !c.OK || !c.Warn || !strings.Contains(c.Detail, tc.want) {
			t.Errorf("%s: %+v", name, c)
		}
		if name == "no proxy" && tc.a.proxyCalls != 1 {
			t.Errorf("no proxy: %d proxy requests, want the one the apiserver refused", tc.a.proxyCalls)
		}
	}
	r, _ := runMetricsCheck(t, &apiserver{pods: []corev1.Pod{pod("vllm-ready", true)}, proxyCode: 404}, "running")
	if c := r.Checks[0]; c.OK || !strings.Contains(c.Detail, "answers 404 for /metrics on port 8000") {
		t.Errorf("404: %+v", c)
	}
}
