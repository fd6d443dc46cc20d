package e2e

import (
	"testing"
)

// TestMetricsServedSimulated: on a twin of its own whose simulated vLLM
// servers also expose the old KV-cache name (--legacy-vllm-metrics),
// setup's preflight reads a Ready pod's /metrics through the apiserver's
// pod proxy and finds every chosen metric served.
func TestMetricsServedSimulated(t *testing.T) {
	needE2E(t)
	kubeconfig, kube := demoTwin(t, "--gpu-nodes", "1", "--model-load-delay", "1s", "--legacy-vllm-metrics")
	waitVLLMReady(t, kube)

	r := plugin(t, kubeconfig, "setup", "-n", "default", "--metric", "running", "--metric", "kv-cache", "--dry-run=client")
	if r.code != 0 {
		t.Fatalf("setup --dry-run: %s", r)
	}
	mustContain(t, "stderr", r.stderr, "[ok  ] vLLM metrics: pod "+vllmName+"-", "serves vllm:kv_cache_usage_perc, vllm:num_requests_running")
	mustContain(t, "stdout", r.stdout, "prometheus.googleapis.com|vllm:kv_cache_usage_perc|gauge")
}
