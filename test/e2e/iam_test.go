package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
	"github.com/infer-hpa/kubectl-infer-hpa/test/gcpfake"
)

// TestWorkloadIdentityGrantAndRevoke: setup grants the adapter's KSA
// roles/monitoring.viewer (principal mode) through the IAM API of the fake
// Google server, a rerun changes nothing there either, and cleanup --iam
// revokes exactly that grant.
func TestWorkloadIdentityGrantAndRevoke(t *testing.T) {
	needE2E(t)
	fake := localGoogle(t)

	ns := namespace(t, "e2e-iam")
	vllmDeployment(t, ns, "vllm", "vllm", 8000, true)
	member := "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/twin-project.svc.id.goog/subject/ns/custom-metrics/sa/custom-metrics-stackdriver-adapter"

	r := plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--timeout", "90s")
	if r.code != 0 {
		t.Fatalf("setup: %s", r)
	}
	mustContain(t, "stdout", r.stdout, "iampolicy/projects/twin-project roles/monitoring.viewer "+member+" granted")
	mustContain(t, "stderr", r.stderr, "workload identity pool twin-project.svc.id.goog (read from cluster projects/twin-project/locations/us-central1/clusters/twin)")
	if !fake.HasRole(twinProject, member, gcp.RoleMonitoringViewer) {
		t.Fatal("the fake IAM has no grant for the adapter")
	}
	sets := fake.Calls(gcpfake.MethodSetProjectPolicy)

	r = plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--timeout", "90s")
	if r.code != 0 {
		t.Fatalf("rerun: %s", r)
	}
	mustContain(t, "stdout", r.stdout, member+" unchanged")
	if got := fake.Calls(gcpfake.MethodSetProjectPolicy); got != sets {
		t.Errorf("rerun called setIamPolicy %d more times", got-sets)
	}
	if w := r.reqs.writes(); len(w) != 0 {
		t.Errorf("rerun sent writes to the cluster: %v", w)
	}

	r = plugin(t, cluster.kubeconfig, "cleanup", "-n", ns, "--iam", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stderr, "would run: gcloud projects remove-iam-policy-binding twin-project --role=roles/monitoring.viewer") {
		t.Fatalf("cleanup --iam --dry-run: %s", r)
	}
	if !fake.HasRole(twinProject, member, gcp.RoleMonitoringViewer) {
		t.Fatal("a dry run revoked the grant")
	}
	r = plugin(t, cluster.kubeconfig, "cleanup", "-n", ns, "--iam")
	if r.code != 0 {
		t.Fatalf("cleanup --iam: %s", r)
	}
	mustContain(t, "stdout", r.stdout, member+" revoked")
	if fake.HasRole(twinProject, member, gcp.RoleMonitoringViewer) {
		t.Fatal("the grant is still there after cleanup --iam")
	}
}

// TestPrintGcloud: with --print-gcloud, setup and cleanup --iam leave Google
// Cloud IAM alone and print the gcloud commands instead.
func TestPrintGcloud(t *testing.T) {
	needE2E(t)
	fake := localGoogle(t)
	ns := namespace(t, "e2e-gcloud")
	vllmDeployment(t, ns, "vllm", "vllm", 8000, true)

	r := plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--timeout", "90s", "--print-gcloud")
	if r.code != 0 {
		t.Fatalf("setup --print-gcloud: %s", r)
	}
	mustContain(t, "stdout", r.stdout, "gcloud projects add-iam-policy-binding twin-project", "--role=roles/monitoring.viewer")
	mustContain(t, "stderr", r.stderr, "Google Cloud IAM left alone (--print-gcloud)")
	if n := fake.Calls(gcpfake.MethodSetProjectPolicy); n != 0 {
		t.Errorf("setup --print-gcloud called setIamPolicy %d times", n)
	}

	r = plugin(t, cluster.kubeconfig, "cleanup", "-n", ns, "--iam", "--print-gcloud")
	if r.code != 0 {
		t.Fatalf("cleanup --iam --print-gcloud: %s", r)
	}
	mustContain(t, "stdout", r.stdout, "gcloud projects remove-iam-policy-binding twin-project", "cleanup complete")
	if n := fake.Calls(gcpfake.MethodSetProjectPolicy); n != 0 {
		t.Errorf("cleanup --print-gcloud called setIamPolicy %d times", n)
	}

	r = plugin(t, cluster.kubeconfig, "cleanup", "-n", ns, "--print-gcloud")
	oneLineError(t, r, "--print-gcloud", "add --iam")
}

// TestProjectMismatch: a --project other than the cluster's (the twin's
// nodes are in twin-project) fails before anything is written to the
// cluster or to Google, naming both projects; diff refuses it the same way;
// --allow-project-mismatch lets it through with a note.
func TestProjectMismatch(t *testing.T) {
	needE2E(t)
	fake := localGoogle(t)
	fake.AddProject("other-project", 987654321098)
	ns := namespace(t, "e2e-project")
	vllmDeployment(t, ns, "vllm", "vllm", 8000, true)

	r := plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--project", "other-project", "--timeout", "30s")
	oneLineError(t, r, "--project other-project differs from the cluster's project twin-project", "--allow-project-mismatch")
	if w := r.reqs.writes(); len(w) != 0 {
		t.Errorf("setup wrote to the cluster: %v", w)
	}
	if calls := fake.AllCalls(); len(calls) != 0 {
		t.Errorf("setup called Google: %v", calls)
	}

	r = plugin(t, cluster.kubeconfig, "diff", "-n", ns, "--project", "other-project")
	if r.code != 2 || !strings.Contains(r.stderr, "differs from the cluster's project twin-project") {
		t.Errorf("diff: %s", r)
	}

	r = plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--project", "other-project", "--allow-project-mismatch", "--dry-run=client")
	if r.code != 0 {
		t.Fatalf("setup --allow-project-mismatch --dry-run: %s", r)
	}
	mustContain(t, "stderr", r.stderr, "--allow-project-mismatch: the role is granted in other-project", "would run: gcloud projects add-iam-policy-binding other-project")
	if calls := fake.AllCalls(); len(calls) != 0 {
		t.Errorf("a dry run called Google: %v", calls)
	}
}

// TestWorkloadPoolFromCluster: setup grants the role to a member of the
// pool GKE reports for the cluster (workloadIdentityConfig.workloadPool),
// not to one built from the project; when reading the cluster is
// forbidden it assumes PROJECT.svc.id.goog and says so; a cluster without
// Workload Identity stops setup before anything is written.
func TestWorkloadPoolFromCluster(t *testing.T) {
	needE2E(t)
	fake := localGoogle(t)
	const pool = "twin-project.hub.svc.id.goog"
	fake.SetWorkloadPool(twinProject, pool)
	ns := namespace(t, "e2e-pool")
	vllmDeployment(t, ns, "vllm", "vllm", 8000, true)
	member := "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/" + pool + "/subject/ns/custom-metrics/sa/custom-metrics-stackdriver-adapter"

	r := plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--timeout", "90s")
	if r.code != 0 {
		t.Fatalf("setup: %s", r)
	}
	mustContain(t, "stderr", r.stderr, "workload identity pool "+pool+" (read from cluster projects/twin-project/locations/us-central1/clusters/twin)")
	mustContain(t, "stdout", r.stdout, member+" granted")
	if fake.IdentityHasRole(twinProject, "custom-metrics", "custom-metrics-stackdriver-adapter", "", gcp.RoleMonitoringViewer) != "principal" {
		t.Fatal("the adapter's identity in the cluster's pool has no grant")
	}
	if r := plugin(t, cluster.kubeconfig, "cleanup", "-n", ns, "--iam"); r.code != 0 || !strings.Contains(r.stdout, member+" revoked") {
		t.Fatalf("cleanup --iam: %s", r)
	}

	// Reading the cluster forbidden: the documented pool, with a note.
	fake.SetWorkloadPool(twinProject, "twin-project.svc.id.goog")
	fake.AddFault(gcpfake.Fault{Method: gcpfake.MethodGetCluster, Times: 1, Code: 403, Status: "PERMISSION_DENIED",
		Message: `Required "container.clusters.get" permission(s) for "projects/twin-project/locations/us-central1/clusters/twin".`, Permission: "container.clusters.get"})
	r = plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--timeout", "90s")
	if r.code != 0 {
		t.Fatalf("setup with clusters.get forbidden: %s", r)
	}
	mustContain(t, "stderr", r.stderr, "assuming the workload identity pool twin-project.svc.id.goog: not allowed to read cluster projects/twin-project/locations/us-central1/clusters/twin (container.clusters.get")
	mustContain(t, "stdout", r.stdout, "workloadIdentityPools/twin-project.svc.id.goog/subject/ns/custom-metrics/sa/custom-metrics-stackdriver-adapter granted")
	if r := plugin(t, cluster.kubeconfig, "cleanup", "-n", ns, "--iam"); r.code != 0 {
		t.Fatalf("cleanup --iam: %s", r)
	}

	// A cluster without Workload Identity: nothing written anywhere.
	fake.AddCluster(twinProject, "us-central1", "twin", false)
	fake.ResetCalls()
	r = plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--timeout", "30s")
	oneLineError(t, r, "Workload Identity is not enabled", "--workload-pool=twin-project.svc.id.goog")
	if w := r.reqs.writes(); len(w) != 0 {
		t.Errorf("setup wrote to the cluster: %v", w)
	}
	if n := fake.Calls(gcpfake.MethodSetProjectPolicy); n != 0 {
		t.Errorf("setup called setIamPolicy %d times", n)
	}
}

// adapterPodState is "NAME RESTARTS LAST_EXIT LAST_REASON WAITING READY" of
// the adapter's (only, not deleting) pod.
func adapterPodState(ctx context.Context) (name string, restarts int32, rest string) {
	pods, err := cluster.kube.CoreV1().Pods("custom-metrics").List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=custom-metrics-stackdriver-adapter"})
	if err != nil {
		return "", 0, err.Error()
	}
	var live []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			live = append(live, p)
		}
	}
	if len(live) != 1 || len(live[0].Status.ContainerStatuses) == 0 {
		return "", 0, fmt.Sprintf("%d adapter pods, or no container status yet", len(live))
	}
	p, cs := live[0], live[0].Status.ContainerStatuses[0]
	var last, waiting string
	if term := cs.LastTerminationState.Terminated; term != nil {
		last = fmt.Sprintf("exit %d %s", term.ExitCode, term.Reason)
	}
	if cs.State.Waiting != nil {
		waiting = cs.State.Waiting.Reason
	}
	return p.Name, cs.RestartCount, fmt.Sprintf("last %q waiting %q ready %v", last, waiting, cs.Ready)
}

// waitChainWorks waits for the adapter pod to be Ready, both APIServices to
// be Available and the HPA to compute its metric through them.
func waitChainWorks(t *testing.T, ns, hpa string, within time.Duration) {
	t.Helper()
	eventually(t, within, "the real adapter Ready, the APIServices Available, the HPA ScalingActive", func(ctx context.Context) string {
		if _, _, st := adapterPodState(ctx); !strings.HasSuffix(st, "ready true") {
			return "adapter: " + st
		}
		for _, name := range metricAPIs {
			u, err := get(ctx, apiServiceGVR, "", name)
			if err != nil {
				return err.Error()
			}
			if st, reason, msg := condition(u, "Available"); st != "True" {
				return fmt.Sprintf("APIService %s Available=%s %s %s", name, st, reason, msg)
			}
		}
		h, err := cluster.kube.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, hpa, metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		for _, c := range h.Status.Conditions {
			if c.Type == "ScalingActive" && c.Status == corev1.ConditionTrue && len(h.Status.CurrentMetrics) > 0 {
				return ""
			}
			if c.Type == "ScalingActive" {
				return fmt.Sprintf("HPA ScalingActive=%s %s: %s", c.Status, c.Reason, c.Message)
			}
		}
		return "HPA: no ScalingActive condition yet"
	})
}

// grantScript is the grant setup printed as its one remaining step: the
// indented shell lines (a PROJECT_NUMBER lookup, gcloud commands).
func grantScript(t *testing.T, out string) string {
	t.Helper()
	if i := strings.LastIndex(out, "one step remains:"); i >= 0 {
		out = out[i:] // (the progress line before it carries the same commands)
	}
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.TrimSpace(l); strings.HasPrefix(l, "  ") && (strings.HasPrefix(f, "gcloud ") || strings.HasPrefix(f, "PROJECT_NUMBER=")) {
			lines = append(lines, f)
		}
	}
	if len(lines) == 0 {
		t.Fatalf("setup printed no gcloud commands:\n%s", out)
	}
	return strings.Join(lines, "\n")
}

// TestSkipIAMCrashLoopThenGrant: without roles/monitoring.viewer the real
// adapter exits at start-up. setup --skip-iam applies everything, says the
// one step that remains (the grant, as gcloud commands) and exits 0; the
// pod crash-loops with a growing restartCount and the adapter's fatal line
// in `kubectl logs --previous`. Running the printed gcloud command against
// the twin's local Google API server makes the next restart stay up, and
// the APIServices and the HPA work without setup being run again.
func TestSkipIAMCrashLoopThenGrant(t *testing.T) {
	needE2E(t)
	if _, err := exec.LookPath("gcloud"); err != nil {
		t.Skip("gcloud is not installed (the test grants the role with the command setup prints)")
	}
	ns := namespace(t, "e2e-skip-iam")
	vllmDeployment(t, ns, vllmName, "gemma-server", 8081, true)
	revokeAdapterViewer(t)
	t.Cleanup(func() {
		if r := plugin(t, cluster.kubeconfig, "cleanup", "-n", ns); r.code != 0 {
			t.Errorf("cleanup: %s", r)
		}
	})
	r := plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--skip-iam", "--metric", "running=4", "--scrape-interval", "5s", "--timeout", "90s")
	if r.code != 0 {
		t.Fatalf("setup --skip-iam: %s", r)
	}
	mustContain(t, "stdout", r.stdout, "one step remains: the adapter exits until it may read Cloud Monitoring (",
		"Permission monitoring.metricDescriptors.list denied", "gcloud projects add-iam-policy-binding twin-project",
		"not waiting for the", "horizontalpodautoscaler.autoscaling/vllm-gemma-deployment created")
	if strings.Contains(r.stdout, "setup complete") {
		t.Errorf("setup claims to be complete with the adapter crash-looping:\n%s", r.stdout)
	}

	var pod string
	eventually(t, 60*time.Second, "the adapter crash-looping, restartCount 2 or more", func(ctx context.Context) string {
		name, n, st := adapterPodState(ctx)
		pod = name
		if n < 2 || !strings.Contains(st, `last "exit 255 Error"`) || !strings.Contains(st, `waiting "CrashLoopBackOff"`) {
			return fmt.Sprintf("%s restarts %d %s", name, n, st)
		}
		return ""
	})
	mustContain(t, "kubectl logs --previous", adapterLogs(t, true), "Failed request to stackdriver api",
		"Permission monitoring.metricDescriptors.list denied")

	// The grant, exactly as setup printed it, run in a shell by gcloud
	// against the twin's local Google API server (the environment `twin
	// exec` gave this process points it there).
	script := grantScript(t, r.stdout)
	grant := exec.Command("sh", "-ec", script)
	grant.Env = append(grant.Environ(), "CLOUDSDK_CORE_DISABLE_PROMPTS=1")
	out, err := grant.CombinedOutput()
	t.Logf("$ %s\n%s", script, out)
	if err != nil {
		t.Fatalf("the printed grant failed: %v", err)
	}
	waitChainWorks(t, ns, vllmName, 60*time.Second)
	if name, _, _ := adapterPodState(context.Background()); name != pod {
		t.Errorf("the adapter pod changed (%s -> %s): the grant should have let the same pod's next restart stay up", pod, name)
	}
}

// TestGSAModeEndToEnd: the tutorial's Workload Identity (--wi-mode gsa: a
// Google service account with roles/monitoring.viewer that the adapter's KSA
// may impersonate) end to end against the twin's local Google API server,
// with the KSA's own grant taken away so that only the GSA can let the real
// adapter in: setup creates and grants it, the adapter gets the GSA's token
// from its GKE metadata server, the chain works and the HPA scales on
// vllm:num_requests_running under load; cleanup --iam revokes both grants.
func TestGSAModeEndToEnd(t *testing.T) {
	needE2E(t)
	ns := namespace(t, "e2e-gsa")
	vllmDeployment(t, ns, vllmName, "gemma-server", 8081, true)
	vllmService(t, ns, "llm-service", "gemma-server", 8081)
	revokeAdapterViewer(t)
	cleaned := false
	t.Cleanup(func() {
		if !cleaned {
			plugin(t, cluster.kubeconfig, "cleanup", "-n", ns, "--iam")
		}
	})
	gsa := identity.DefaultGSAName + "@" + twinProject + ".iam.gserviceaccount.com"
	ksa := "serviceAccount:" + twinProject + ".svc.id.goog[custom-metrics/custom-metrics-stackdriver-adapter]"
	r := plugin(t, cluster.kubeconfig, "setup", "-n", ns, "--wi-mode", "gsa", "--metric", "running=4", "--behavior", "tutorial",
		"--scrape-interval", "5s", "--timeout", "2m")
	if r.code != 0 {
		t.Fatalf("setup --wi-mode gsa: %s", r)
	}
	mustContain(t, "stdout", r.stdout, gsa, "roles/iam.workloadIdentityUser "+ksa+" granted",
		"roles/monitoring.viewer serviceAccount:"+gsa+" granted", "the adapter is ready", "the metrics APIs are Available", "setup complete:")
	ctx := context.Background()
	sa, err := cluster.kube.CoreV1().ServiceAccounts("custom-metrics").Get(ctx, "custom-metrics-stackdriver-adapter", metav1.GetOptions{})
	if err != nil || sa.Annotations["iam.gke.io/gcp-service-account"] != gsa {
		t.Fatalf("the adapter's KSA is not annotated with the GSA: %v %v", sa.GetAnnotations(), err)
	}
	waitChainWorks(t, ns, vllmName, 60*time.Second)

	since := time.Now().Add(-time.Second)
	stop := startLoad(t, cluster.kubeconfig, ns, "llm-service", "--concurrency", "12", "--duration", "3m")
	eventually(t, 120*time.Second, "a rescale for vllm:num_requests_running", func(ctx context.Context) string {
		return rescaledFor(ctx, ns, vllmName, since, "vllm:num_requests_running")
	})
	stop()

	c := plugin(t, cluster.kubeconfig, "cleanup", "-n", ns, "--iam")
	cleaned = true
	if c.code != 0 {
		t.Fatalf("cleanup --iam: %s", c)
	}
	mustContain(t, "stdout", c.stdout, "roles/monitoring.viewer serviceAccount:"+gsa+" revoked", "cleanup complete")
	client, err := gcp.NewClient(ctx, cluster.google)
	if err != nil {
		t.Fatal(err)
	}
	if g, err := client.ProjectGrants(ctx, twinProject); err != nil || g.Has(gcp.RoleMonitoringViewer, "serviceAccount:"+gsa) {
		t.Errorf("the GSA still holds roles/monitoring.viewer after cleanup --iam (%v)", err)
	}
	if ok, err := client.ServiceAccountExists(ctx, twinProject, gsa); err == nil && ok {
		if g, err := client.ServiceAccountGrants(ctx, twinProject, gsa); err != nil || g.Has(gcp.RoleWorkloadIdentityUser, ksa) {
			t.Errorf("the KSA may still impersonate the GSA after cleanup --iam (%v)", err)
		}
	}
}
