package e2e

import (
	"context"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestKEDAExternalMetricsUntouched: a cluster where KEDA owns
// external.metrics.k8s.io. Every metric setup renders is a Pods metric, so
// setup neither needs nor plans that APIService: setup leaves
// KEDA's APIService exactly as it was, and cleanup does not plan to touch it.
func TestKEDAExternalMetricsUntouched(t *testing.T) {
	needE2E(t)
	const name = "v1beta1.external.metrics.k8s.io"
	ns := namespace(t, "e2e-keda")
	vllmDeployment(t, ns, "vllm", "vllm", 8000, true)
	ctx := context.Background()
	keda := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": name, "labels": map[string]any{"app.kubernetes.io/part-of": "keda-operator"}},
		"spec": map[string]any{"group": "external.metrics.k8s.io", "version": "v1beta1", "insecureSkipTLSVerify": true,
			"groupPriorityMinimum": int64(100), "versionPriority": int64(100),
			"service": map[string]any{"namespace": "keda", "name": "keda-operator-metrics-apiserver", "port": int64(443)}},
	}}
	before, err := cluster.dyn.Resource(apiServiceGVR).Create(ctx, keda, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cluster.dyn.Resource(apiServiceGVR).Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	unchanged := func(step string) {
		t.Helper()
		now, err := get(ctx, apiServiceGVR, "", name)
		if err != nil {
			t.Fatalf("after %s: KEDA's APIService: %v", step, err)
		}
		if now.GetUID() != before.GetUID() || !reflect.DeepEqual(now.Object["spec"], before.Object["spec"]) ||
			!reflect.DeepEqual(now.GetLabels(), before.GetLabels()) || !reflect.DeepEqual(now.GetAnnotations(), before.GetAnnotations()) {
			t.Fatalf("after %s: KEDA's APIService changed:\nbefore %v\nnow    %v", step, before.Object, now.Object)
		}
		// The apiserver writes its status; nobody else may own a field.
		for _, mf := range now.GetManagedFields() {
			if mf.Manager != "e2e.test" && mf.Manager != "kube-apiserver" {
				t.Fatalf("after %s: field manager %q wrote to KEDA's APIService", step, mf.Manager)
			}
		}
	}

	cleaned := false
	t.Cleanup(func() {
		if !cleaned {
			plugin(t, cluster.kubeconfig, "cleanup", "-n", ns)
		}
	})
	r := plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--skip-iam", "--timeout", "90s")
	if r.code != 0 {
		t.Fatalf("setup on a cluster with KEDA: %s", r)
	}
	mustContain(t, "stdout", r.stdout, "setup complete:")
	if strings.Contains(r.stdout+r.stderr, name) {
		t.Errorf("setup mentions %s, which it does not need:\n%s", name, r)
	}
	unchanged("setup")

	// cleanup's plan leaves KEDA's APIService alone...
	d := plugin(t, cluster.kubeconfig, "cleanup", "-n", ns, "--dry-run")
	if d.code != 0 || strings.Contains(d.stdout+d.stderr, name) {
		t.Fatalf("cleanup --dry-run on a cluster with KEDA: %s", d)
	}
	unchanged("cleanup --dry-run")
	// ...and the real cleanup runs without it: an APIService that is not
	// Available (this one has no Service behind it) blocks every namespace
	// deletion in Kubernetes (NamespaceDeletionDiscoveryFailure), so the
	// fake KEDA goes before cleanup deletes custom-metrics.
	if err := cluster.dyn.Resource(apiServiceGVR).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	c := plugin(t, cluster.kubeconfig, "cleanup", "-n", ns)
	cleaned = true
	if c.code != 0 {
		t.Fatalf("cleanup: %s", c)
	}
}
