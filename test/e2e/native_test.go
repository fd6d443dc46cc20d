package e2e

import (
	"strings"
	"testing"
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
