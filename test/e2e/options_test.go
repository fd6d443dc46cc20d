package e2e

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestDryRuns: --dry-run=client prints what would be applied and writes
// nothing; --dry-run=server goes through the apiserver and persists nothing.
func TestDryRuns(t *testing.T) {
	needE2E(t)
	ns := namespace(t, "e2e-dry")
	vllmDeployment(t, ns, "vllm", "vllm", 8000, true)

	r := plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--dry-run=client", "-o", "yaml", "--skip-iam")
	if r.code != 0 {
		t.Fatalf("client dry run: %s", r)
	}
	noWrites(t, r)
	mustContain(t, "yaml", r.stdout, "kind: HorizontalPodAutoscaler", "applyset.kubernetes.io/part-of: applyset-",
		"applyset.kubernetes.io/contains-group-kinds: APIService.apiregistration.k8s.io,", "name: infer-hpa-vllm")
	if strings.Contains(r.stdout, "replicas") && strings.Contains(r.stdout, "name: vllm\n  namespace: "+ns+"\nspec:\n  replicas") {
		t.Error("the plan sets replicas on the vLLM Deployment")
	}

	r = plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--dry-run=server", "--skip-iam")
	if r.code != 0 {
		t.Fatalf("server dry run: %s", r)
	}
	mustContain(t, "stdout", r.stdout, "horizontalpodautoscaler.autoscaling/vllm created (server dry run)",
		"not waiting for the adapter to be ready (server dry run)", "serviceaccount/custom-metrics-stackdriver-adapter not checked: namespace custom-metrics does not exist yet (server dry run)", "setup checked by a server dry run, nothing persisted")
	if r.reqs.count("PATCH") == 0 {
		t.Error("the server dry run sent no apply")
	}
	mustNotExist(t, hpaGVR, ns, "vllm")
	mustNotExist(t, apiServiceGVR, "", "v1beta1.custom.metrics.k8s.io")
	if _, err := cluster.kube.CoreV1().ConfigMaps(ns).Get(context.Background(), "infer-hpa-vllm", metav1.GetOptions{}); err == nil {
		t.Error("the server dry run persisted the inventory")
	}
}

// TestConflictsAndTimeouts: a field another manager owns is reported by
// name and taken with --force-conflicts; a wait that times out names the
// object and the condition it is stuck on.
func TestConflictsAndTimeouts(t *testing.T) {
	needE2E(t)
	ns := namespace(t, "e2e-conflict")
	vllmDeployment(t, ns, "vllm", "vllm", 8000, true)
	t.Run("timeout names the stuck adapter", func(t *testing.T) {
		// Without the role the real adapter exits at start-up; with
		// --wi-mode none setup does not put that down to IAM left to the
		// user (as --skip-iam does), so the wait runs out.
		revokeAdapterViewer(t)
		r := plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--wi-mode", "none", "--timeout", "5s")
		if r.code == 0 {
			t.Fatalf("setup succeeded with an adapter that cannot start: %s", r)
		}
		mustContain(t, "stderr", r.stderr, "timed out after 5s waiting for the adapter to be ready",
			"deployment.apps/custom-metrics-stackdriver-adapter")
	})
	r := plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--skip-iam", "--timeout", "60s")
	if r.code != 0 {
		t.Fatalf("setup: %s", r)
	}
	t.Cleanup(func() { plugin(t, cluster.kubeconfig, "cleanup", "-n", ns) })
	force := true
	patch := []byte(`{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"vllm"},"spec":{"maxReplicas":9}}`)
	if _, err := cluster.kube.AutoscalingV2().HorizontalPodAutoscalers(ns).Patch(context.Background(), "vllm", types.ApplyPatchType, patch,
		metav1.PatchOptions{FieldManager: "platform-team", Force: &force}); err != nil {
		t.Fatal(err)
	}
	r = plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--skip-iam")
	if r.code == 0 {
		t.Fatalf("setup took a field another manager owns without --force-conflicts: %s", r)
	}
	mustContain(t, "stderr", r.stderr, "horizontalpodautoscaler.autoscaling/vllm: fields owned by another field manager (rerun with --force-conflicts to take them):",
		`.spec.maxReplicas: conflict with "platform-team"`)
	r = plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--skip-iam", "--force-conflicts")
	if r.code != 0 {
		t.Fatalf("setup --force-conflicts: %s", r)
	}
	mustContain(t, "stdout", r.stdout, "horizontalpodautoscaler.autoscaling/vllm configured")
	hpa, err := cluster.kube.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(context.Background(), "vllm", metav1.GetOptions{})
	if err != nil || hpa.Spec.MaxReplicas != 5 {
		t.Fatalf("maxReplicas after --force-conflicts: %v %v", hpa, err)
	}
}
