package e2e

import (
	"strings"
	"testing"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
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
	if r.code != 0 || !strings.Contains(r.stdout, "would run: gcloud projects remove-iam-policy-binding twin-project --role=roles/monitoring.viewer") {
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
