package watch

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
)

func TestResolve(t *testing.T) {
	other := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "other-hpa", Namespace: ns},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "other"}}}
	c := fake.NewClientset(testHPA(1, 1), other, testDeployment())
	want := Target{Namespace: ns, HPA: "vllm-hpa", Deployment: "vllm", PodSelector: "app=gemma-server"}
	for _, name := range []string{"vllm-hpa", "vllm"} {
		got, err := Resolve(context.Background(), c, ns, name)
		if err != nil || got != want {
			t.Errorf("Resolve(%q) = %+v, %v; want %+v", name, got, err, want)
		}
	}
	_, err := Resolve(context.Background(), c, ns, "nope")
	if err == nil || !strings.Contains(err.Error(), "HPAs there: other-hpa, vllm-hpa") {
		t.Errorf("missing name error = %v", err)
	}
	_, err = Resolve(context.Background(), fake.NewClientset(), ns, "nope")
	if err == nil || !strings.Contains(err.Error(), "has no HPAs") {
		t.Errorf("empty namespace error = %v", err)
	}
}

// TestCustomMetricsREST serves a custom.metrics.k8s.io answer on loopback and
// checks the request path, the selector and the decoded values.
func TestCustomMetricsREST(t *testing.T) {
	var gotPath, gotSel string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotSel = r.URL.EscapedPath(), r.URL.Query().Get("labelSelector")
		if strings.Contains(r.URL.Path, "missing") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"MetricValueList","apiVersion":"custom.metrics.k8s.io/v1beta2","metadata":{},"items":[
 {"describedObject":{"kind":"Pod","namespace":"default","name":"vllm-a","apiVersion":"/v1"},"metric":{"name":"x"},"timestamp":"2026-11-26T18:00:00Z","value":"6500m"},
 {"describedObject":{"kind":"Pod","namespace":"default","name":"vllm-b","apiVersion":"/v1"},"metric":{"name":"x"},"timestamp":"2026-11-26T18:00:00Z","value":"2"}]}`))
	}))
	defer srv.Close()
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	src := CustomMetricsREST{Client: cs.Discovery().RESTClient()}
	vals, err := src.PodValues(context.Background(), ns, metricName, "app=gemma-server")
	if err != nil {
		t.Fatal(err)
	}
	if vals["vllm-a"] != 6.5 || vals["vllm-b"] != 2 || len(vals) != 2 {
		t.Errorf("values = %v", vals)
	}
	if !strings.HasPrefix(gotPath, "/apis/custom.metrics.k8s.io/v1beta2/namespaces/default/pods/%2A/prometheus.googleapis.com") &&
		!strings.HasPrefix(gotPath, "/apis/custom.metrics.k8s.io/v1beta2/namespaces/default/pods/*/prometheus.googleapis.com") {
		t.Errorf("path = %s", gotPath)
	}
	if gotSel != "app=gemma-server" {
		t.Errorf("labelSelector = %q", gotSel)
	}
	if _, err := src.PodValues(context.Background(), ns, "missing", ""); err == nil || !strings.HasPrefix(err.Error(), "404: metric missing not found") {
		t.Errorf("404 error = %v", err)
	}
}
