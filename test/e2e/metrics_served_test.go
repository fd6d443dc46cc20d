package e2e

import (
	"os/exec"
	"path/filepath"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twinrun"
)

// TestMetricsServedSimulated: on a twin of its own whose simulated vLLM
// servers also expose the old KV-cache name (--legacy-vllm-metrics),
// setup's preflight reads a Ready pod's /metrics through the apiserver's
// pod proxy and finds every chosen metric served.
func TestMetricsServedSimulated(t *testing.T) {
	needE2E(t)
	dir := t.TempDir()
	state, kubeconfig := filepath.Join(dir, "twin"), filepath.Join(dir, "kubeconfig")
	twinBin, err := twinrun.Binary()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(twinBin, "up", "--demo", "--state-dir", state, "--kubeconfig-out", kubeconfig,
		"--gpu-nodes", "1", "--model-load-delay", "1s", "--legacy-vllm-metrics").CombinedOutput()
	if err != nil {
		t.Fatalf("twin up --demo: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(twinBin, "down", "--state-dir", state).CombinedOutput(); err != nil {
			t.Errorf("twin down: %v\n%s", err, out)
		}
	})
	setEnvFile(t, filepath.Join(state, "twin.env"))
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	waitVLLMReady(t, kubernetes.NewForConfigOrDie(cfg))

	r := plugin(t, kubeconfig, "setup", "-n", "default", "--metric", "running", "--metric", "kv-cache", "--dry-run=client")
	if r.code != 0 {
		t.Fatalf("setup --dry-run: %s", r)
	}
	mustContain(t, "stderr", r.stderr, "[ok  ] vLLM metrics: pod "+vllmName+"-", "serves vllm:kv_cache_usage_perc, vllm:num_requests_running")
	mustContain(t, "stdout", r.stdout, "prometheus.googleapis.com|vllm:kv_cache_usage_perc|gauge")
}
