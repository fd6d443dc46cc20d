package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twinrun"
)

// TestWatchScaleUpSimulated is the tutorial's section IV on a twin of its
// own started with `twin up --demo`: simulated vLLM servers behind
// vllm-gemma-deployment and vllm-service, the Managed Prometheus emulation
// scraping them, the local Cloud Monitoring, the real Stackdriver adapter
// (its identity checked in the local Google API server by its GKE metadata
// server; its log is the adapter pod's) and the real HPA controller. `setup` wires it, `twin load`
// drives 12 concurrent requests through the Service (3 pods' worth at 4
// running per pod), and `watch` must show the scale-up.
func TestWatchScaleUpSimulated(t *testing.T) {
	needE2E(t)
	dir := t.TempDir()
	state, kubeconfig := filepath.Join(dir, "twin"), filepath.Join(dir, "kubeconfig")
	twinBin, err := twinrun.Binary()
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	out, err := exec.Command(twinBin, "up", "--demo", "--state-dir", state, "--kubeconfig-out", kubeconfig,
		"--gpu-nodes", "4", "--hpa-sync-period", "2s", "--model-load-delay", "2s").CombinedOutput()
	if err != nil {
		t.Fatalf("twin up --demo: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(twinBin, "down", "--state-dir", state).CombinedOutput(); err != nil {
			t.Errorf("twin down: %v\n%s", err, out)
		}
	})
	t.Logf("twin up --demo in %s", time.Since(began).Round(time.Millisecond))
	setEnvFile(t, filepath.Join(state, "twin.env")) // the local Google API endpoints for setup's IAM calls

	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kube := kubernetes.NewForConfigOrDie(cfg)
	waitVLLMReady(t, kube)
	r := plugin(t, kubeconfig, "setup", "-n", "default", "--metric", "running=4", "--behavior", "tutorial",
		"--max", "5", "--timeout", "3m")
	if r.code != 0 {
		t.Fatalf("setup: %s", r)
	}
	t.Cleanup(func() {
		if r := plugin(t, kubeconfig, "cleanup", "-n", "default", "--iam"); r.code != 0 {
			t.Errorf("cleanup: %s", r)
		}
	})

	watchScaleUp(t, scaleUpCase{
		kubeconfig: kubeconfig, namespace: "default", adapterLine: "filter_builder.go",
		drive: func(ctx context.Context) {
			load := exec.CommandContext(ctx, twinBin, "load", "--state-dir", state, "--service", "vllm-service",
				"--concurrency", "12", "--duration", "3m")
			if out, err := load.CombinedOutput(); err != nil && ctx.Err() == nil {
				t.Errorf("twin load: %v\n%s", err, out)
			}
		},
	})
}

// setEnvFile sets the KEY=VALUE lines of an env file for the test.
func setEnvFile(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(k, "#") || k == "KUBECONFIG" {
			continue
		}
		t.Setenv(k, strings.Trim(v, `"'`))
	}
}

// waitVLLMReady waits for the twin's tutorial Deployment (as the tutorial
// wrote it: no container ports, vLLM on --port=8081) to have its pod Ready.
func waitVLLMReady(t *testing.T, kube kubernetes.Interface) {
	t.Helper()
	eventually(t, 90*time.Second, "the vLLM pod to be Ready", func(ctx context.Context) string {
		dep, err := kube.AppsV1().Deployments("default").Get(ctx, vllmName, metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		if st := dep.Status; st.ReadyReplicas != 1 || st.Replicas != 1 {
			return fmt.Sprintf("deployment status %+v", st)
		}
		return ""
	})
}
