package e2e

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestSharedAdapterAcrossSetups: two vLLM Deployments in two namespaces
// share one adapter. Cleaning up the one set up last keeps the shared
// objects (and says so); cleaning up the other then removes them too,
// although they carry the first cleanup's inventory id.
func TestSharedAdapterAcrossSetups(t *testing.T) {
	needE2E(t)
	a, b := namespace(t, "e2e-shared-a"), namespace(t, "e2e-shared-b")
	vllmDeployment(t, a, "vllm", "vllm", 8000, true)
	vllmDeployment(t, b, "vllm", "vllm", 8000, true)
	for _, ns := range []string{a, b} {
		if r := plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--skip-iam", "--timeout", "60s"); r.code != 0 {
			t.Fatalf("setup in %s: %s", ns, r)
		}
	}
	r := plugin(t, cluster.kubeconfig, "cleanup", "-n", b)
	if r.code != 0 {
		t.Fatalf("cleanup %s: %s", b, r)
	}
	mustContain(t, "cleanup output", r.stdout,
		"keeping the shared adapter, RBAC and APIServices: also used by infer-hpa inventories e2e-shared-a/infer-hpa-vllm",
		"apiservice.apiregistration.k8s.io/v1beta1.custom.metrics.k8s.io kept (shared)",
		"horizontalpodautoscaler.autoscaling/vllm deleted")
	ctx := context.Background()
	if _, err := get(ctx, apiServiceGVR, "", "v1beta1.custom.metrics.k8s.io"); err != nil {
		t.Fatalf("the shared APIService is gone while %s still uses it: %v", a, err)
	}
	if _, err := cluster.kube.AutoscalingV2().HorizontalPodAutoscalers(a).Get(ctx, "vllm", metav1.GetOptions{}); err != nil {
		t.Fatalf("the other setup's HPA is gone: %v", err)
	}
	r = plugin(t, cluster.kubeconfig, "cleanup", "-n", a)
	if r.code != 0 {
		t.Fatalf("cleanup %s: %s", a, r)
	}
	mustContain(t, "cleanup output", r.stdout, "apiservice.apiregistration.k8s.io/v1beta1.custom.metrics.k8s.io deleted", "namespace/custom-metrics deleted")
	for _, name := range metricAPIs {
		mustNotExist(t, apiServiceGVR, "", name)
	}
	if _, err := cluster.kube.CoreV1().Namespaces().Get(ctx, "custom-metrics", metav1.GetOptions{}); err == nil {
		t.Error("namespace custom-metrics left behind")
	}
}
