package watch

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"
)

// On the native path watch resolves the HPA as native, starts no adapter
// informer or log tail, and says why in the adapter log's place (the
// snapshot and the plain printer).
func TestNativeHasNoAdapterPanel(t *testing.T) {
	h := testHPA(1, 1)
	h.Spec.Metrics[0].Pods.Metric.Name = "autoscaling.gke.io|vllm-vllm|num-requests-running"
	c := fake.NewClientset(h, testDeployment(), testPod("adapter-x", "custom-metrics", map[string]string{"k8s-app": "custom-metrics-stackdriver-adapter"}, true))
	target, err := Resolve(context.Background(), c, ns, "vllm")
	if err != nil || !target.Native {
		t.Fatalf("Resolve = %+v, %v; want Native", target, err)
	}
	w := New(Options{Client: c, Target: target, AdapterNamespace: "custom-metrics", Tick: 10 * time.Millisecond})
	s := runUntil(t, w, func(s Snapshot) bool { return s.HPA != nil })
	if s.NoAdapter != NoAdapterReason || len(s.AdapterPods) != 0 || len(s.Logs) != 0 || s.AdapterError != "" {
		t.Errorf("native snapshot: NoAdapter %q, adapter pods %v, logs %v, error %q", s.NoAdapter, s.AdapterPods, s.Logs, s.AdapterError)
	}
	var out bytes.Buffer
	if err := (&PlainPrinter{W: &out}).Print(s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "adapter: "+NoAdapterReason) {
		t.Errorf("plain output lacks the reason:\n%s", out.String())
	}
	// The adapter path still watches the adapter.
	if target, _ := Resolve(context.Background(), fake.NewClientset(testHPA(1, 1), testDeployment()), ns, "vllm"); target.Native {
		t.Error("a prometheus.googleapis.com HPA resolved as native")
	}
}
