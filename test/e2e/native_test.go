package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"
)

// The shared twin reports v1.37.2 (not a GKE version) and serves no
// AutoscalingMetric: setup's default path is the adapter, and says why;
// --path native is a one-line error naming the fix, with nothing written.
// (The native path itself is tested on a twin that looks like GKE 1.35.2
// and serves the kind: test/twin/native.)
func TestPathAutoPicksAdapterWithoutTheKind(t *testing.T) {
	needE2E(t)
	ns := namespace(t, "e2e-path")
	vllmDeployment(t, ns, vllmName, "gemma-server", 8081, true)
	r := plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--skip-iam", "--dry-run=client", "-o", "yaml")
	if r.code != 0 {
		t.Fatalf("setup --dry-run=client: %s", r)
	}
	mustContain(t, "stderr", r.stderr, "discovered: path adapter (v1.37.2 is not GKE v1.35.1-gke.1396000 or later with AutoscalingMetric)")
	mustContain(t, "stdout", r.stdout, "kind: APIService", "kind: PodMonitoring")

	r = plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--path", "native", "--timeout", "30s")
	msg := strings.TrimSpace(r.stderr)
	if r.code == 0 || strings.Contains(msg, "\n") ||
		!strings.Contains(msg, "--path native: the cluster (v1.37.2) does not serve autoscaling.gke.io/v1beta1 AutoscalingMetric") ||
		!strings.Contains(msg, "use --path adapter") {
		t.Errorf("setup --path native without the kind: %s", r)
	}
	if n := r.reqs.count("PATCH") + r.reqs.count("POST") + r.reqs.count("PUT"); n != 0 {
		t.Errorf("setup --path native without the kind wrote %d times", n)
	}
	mustNotExist(t, hpaGVR, ns, vllmName)
}

var (
	crdGVR    = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	nativeGVR = schema.GroupVersionResource{Group: "autoscaling.gke.io", Version: "v1beta1", Resource: "autoscalingmetrics"}
)

// serveAutoscalingMetric installs the twin's AutoscalingMetric CRD (ours,
// from GKE's documented fields: test/twin/native/crd.yaml) on the shared
// twin for the test, and removes it afterwards (the other tests see a
// cluster without the kind).
func serveAutoscalingMetric(t *testing.T) {
	t.Helper()
	raw, err := os.ReadFile("../twin/native/crd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	crd := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(raw, &crd.Object); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := cluster.dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cluster.dyn.Resource(crdGVR).Delete(context.Background(), crd.GetName(), metav1.DeleteOptions{})
		eventually(t, 60*time.Second, "the AutoscalingMetric CRD is gone", func(ctx context.Context) string {
			if _, err := cluster.dyn.Resource(crdGVR).Get(ctx, crd.GetName(), metav1.GetOptions{}); err == nil {
				return "still there"
			}
			return ""
		})
	})
	eventually(t, 30*time.Second, "AutoscalingMetric is served", func(ctx context.Context) string {
		if _, err := cluster.dyn.Resource(nativeGVR).List(ctx, metav1.ListOptions{}); err != nil {
			return err.Error()
		}
		return ""
	})
}

// Switching paths converges and touches nothing foreign. The shared twin
// is made to serve AutoscalingMetric (the CRD only: whether GKE registers
// its own custom.metrics.k8s.io APIService is not documented, and this is
// the world where it does not, so both paths can live on one cluster; the
// other world, where setup --path adapter refuses GKE's APIService, is
// test/twin/native). Two namespaces share our adapter; A moves adapter ->
// native (the shared adapter stays: B uses it; A's PodMonitoring goes;
// A's IAM grant stays), B moves too (now nothing uses the adapter: it
// goes), A moves back to the adapter (the AutoscalingMetric goes, the
// adapter returns and the HPA scales on it again). Another team's
// AutoscalingMetric and a bystander ConfigMap are never touched.
func TestSwitchAdapterNativeAdapter(t *testing.T) {
	needE2E(t)
	fake := localGoogle(t)
	serveAutoscalingMetric(t)
	a, b, other := namespace(t, "e2e-switch-a"), namespace(t, "e2e-switch-b"), namespace(t, "e2e-switch-other")
	vllmDeployment(t, a, vllmName, "gemma-server", 8081, true)
	vllmService(t, a, "llm-service", "gemma-server", 8081)
	vllmDeployment(t, b, "vllm", "vllm", 8000, true)
	ctx := context.Background()
	theirs := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "autoscaling.gke.io/v1beta1", "kind": "AutoscalingMetric",
		"metadata": map[string]any{"name": "theirs", "namespace": other},
		"spec": map[string]any{"metrics": []any{map[string]any{"pod": map[string]any{
			"selector":   map[string]any{"matchLabels": map[string]any{"app": "worker"}},
			"containers": []any{map[string]any{"endpoint": map[string]any{"port": int64(9090), "path": "/metrics"}, "metrics": []any{map[string]any{"gauge": map[string]any{"name": "queue", "prometheusMetricName": "queue_depth"}}}}},
		}}}},
	}}
	theirs, err := cluster.dyn.Resource(nativeGVR).Namespace(other).Create(ctx, theirs, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bystander, err := cluster.kube.CoreV1().ConfigMaps(a).Create(ctx,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "bystander"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	member := "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/twin-project.svc.id.goog/subject/ns/custom-metrics/sa/custom-metrics-stackdriver-adapter"
	baseA := []string{"-n", a, "--metric", "running=4", "--behavior", "tutorial", "--scrape-interval", "5s"}
	argsA := func(path string) []string {
		return append(append([]string{"setup"}, baseA...), "--path", path, "--timeout", "90s")
	}
	hpaMetric := func(ns, name string) string {
		hpa, err := cluster.kube.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil || len(hpa.Spec.Metrics) == 0 || hpa.Spec.Metrics[0].Pods == nil {
			return fmt.Sprintf("no Pods metric (%v)", err)
		}
		return hpa.Spec.Metrics[0].Pods.Metric.Name
	}

	// Both on the adapter; A with Google IAM (the fake), B without.
	if r := plugin(t, cluster.kubeconfig, argsA(kustomize.PathAdapter)...); r.code != 0 {
		t.Fatalf("setup A --path adapter: %s", r)
	}
	if !fake.HasRole(twinProject, member, gcp.RoleMonitoringViewer) {
		t.Fatal("setup A --path adapter granted nothing")
	}
	if r := plugin(t, cluster.kubeconfig, "setup", "-n", b, "--path", kustomize.PathAdapter, "--skip-iam", "--timeout", "90s"); r.code != 0 {
		t.Fatalf("setup B --path adapter: %s", r)
	}

	// A -> native: A's adapter objects go, the shared adapter stays for B.
	r := plugin(t, cluster.kubeconfig, argsA(kustomize.PathNative)...)
	if r.code != 0 {
		t.Fatalf("setup A --path native: %s", r)
	}
	mustContain(t, "stderr", r.stderr, "discovered: path native (--path native;")
	mustContain(t, "stdout", r.stdout,
		"autoscalingmetric.autoscaling.gke.io/"+vllmName+"-vllm created",
		"podmonitoring.monitoring.googleapis.com/"+vllmName+"-vllm pruned", "kept (shared)")
	if strings.Contains(r.stdout+r.stderr, "revoked") {
		t.Errorf("switching to native touched IAM:\n%s", r)
	}
	if got, want := hpaMetric(a, vllmName), "autoscaling.gke.io|"+vllmName+"-vllm|num-requests-running"; got != want {
		t.Errorf("A's HPA on native asks for %q, want %q", got, want)
	}
	mustNotExist(t, podMonGVR, a, vllmName+"-vllm")
	for _, name := range metricAPIs {
		if _, err := get(ctx, apiServiceGVR, "", name); err != nil {
			t.Errorf("the shared APIService %s is gone while B uses it: %v", name, err)
		}
	}
	if !fake.HasRole(twinProject, member, gcp.RoleMonitoringViewer) {
		t.Error("switching to native revoked the adapter's grant (only cleanup --iam may)")
	}
	if r := plugin(t, cluster.kubeconfig, append(append([]string{"diff"}, baseA...), "--path", kustomize.PathNative)...); r.code != 0 {
		t.Errorf("diff after the switch to native: %s", r)
	}

	// B -> native: nothing uses the adapter any more: it goes.
	r = plugin(t, cluster.kubeconfig, "setup", "-n", b, "--path", kustomize.PathNative, "--timeout", "90s")
	if r.code != 0 {
		t.Fatalf("setup B --path native: %s", r)
	}
	mustContain(t, "stdout", r.stdout, "apiservice.apiregistration.k8s.io/v1beta1.custom.metrics.k8s.io pruned", "namespace/custom-metrics pruned")
	for _, name := range metricAPIs {
		mustNotExist(t, apiServiceGVR, "", name)
	}

	// A -> adapter: the AutoscalingMetric goes, the adapter is back and the
	// HPA scales on it.
	r = plugin(t, cluster.kubeconfig, argsA(kustomize.PathAdapter)...)
	if r.code != 0 {
		t.Fatalf("setup A back to --path adapter: %s", r)
	}
	mustContain(t, "stdout", r.stdout,
		"autoscalingmetric.autoscaling.gke.io/"+vllmName+"-vllm pruned",
		"deployment.apps/custom-metrics-stackdriver-adapter created",
		"podmonitoring.monitoring.googleapis.com/"+vllmName+"-vllm created")
	mustNotExist(t, nativeGVR, a, vllmName+"-vllm")
	if got := hpaMetric(a, vllmName); got != runningMetric {
		t.Errorf("A's HPA back on the adapter asks for %q, want %q", got, runningMetric)
	}
	// 12 requests in flight through the simulated vLLM, at 4 per pod.
	stop := startLoad(t, cluster.kubeconfig, a, "llm-service", "--concurrency", "12", "--duration", "3m")
	eventually(t, 150*time.Second, "the HPA scales A's Deployment on the adapter again", scaledUp(a, vllmName))
	stop()

	// Nothing foreign was touched.
	got, err := cluster.dyn.Resource(nativeGVR).Namespace(other).Get(ctx, "theirs", metav1.GetOptions{})
	if err != nil || got.GetResourceVersion() != theirs.GetResourceVersion() {
		t.Errorf("the other team's AutoscalingMetric changed: %v", err)
	}
	cm, err := cluster.kube.CoreV1().ConfigMaps(a).Get(ctx, "bystander", metav1.GetOptions{})
	if err != nil || cm.ResourceVersion != bystander.ResourceVersion {
		t.Errorf("the bystander ConfigMap changed: %v", err)
	}

	for _, c := range [][]string{{"cleanup", "-n", b}, {"cleanup", "-n", a, "--iam"}} {
		if r := plugin(t, cluster.kubeconfig, c...); r.code != 0 {
			t.Errorf("%v: %s", c, r)
		}
	}
	if fake.HasRole(twinProject, member, gcp.RoleMonitoringViewer) {
		t.Error("cleanup --iam left the grant")
	}
}

// scaledUp is empty once the Deployment runs more than one replica.
func scaledUp(ns, name string) func(ctx context.Context) string {
	return func(ctx context.Context) string {
		d, err := cluster.kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		switch {
		case err != nil:
			return err.Error()
		case d.Spec.Replicas == nil:
			return "replicas unset"
		case *d.Spec.Replicas < 2:
			return fmt.Sprintf("replicas %d", *d.Spec.Replicas)
		}
		return ""
	}
}
