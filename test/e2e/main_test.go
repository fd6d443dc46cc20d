// Package e2e runs kubectl infer-hpa against the local GKE twin, started
// with the twin's own binary (`twin up`); the plugin reaches it only through
// a kubeconfig, as it would reach GKE.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// EnvE2E turns the tests on (hack/ci-e2e.sh sets it); without it they are
// skipped, so that `go test ./...` stays fast. With it a missing twin fails.
const EnvE2E = "INFER_HPA_E2E"

// cluster is the twin every test shares.
var cluster struct {
	kubeconfig string
	config     *rest.Config
	kube       kubernetes.Interface
	dyn        dynamic.Interface
	stateDir   string
	twinBin    string
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv(EnvE2E) == "" {
		fmt.Fprintln(os.Stderr, "e2e: skipped: set INFER_HPA_E2E=1 (hack/ci-e2e.sh does) to run them on the twin")
		return 0
	}
	bin, err := findTwin()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "infer-hpa-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cluster.twinBin, cluster.stateDir = bin, filepath.Join(dir, "twin")
	cluster.kubeconfig = filepath.Join(dir, "kubeconfig")
	began := time.Now()
	out, err := exec.Command(bin, "up", "--state-dir", cluster.stateDir, "--kubeconfig-out", cluster.kubeconfig,
		"--hpa-sync-period", "2s").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: twin up: %v\n%s\n", err, out)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: twin up in %s\n", time.Since(began).Round(time.Millisecond))
	defer func() {
		if out, err := exec.Command(bin, "down", "--state-dir", cluster.stateDir).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: twin down: %v\n%s\n", err, out)
		}
	}()
	if cluster.config, err = clientcmd.BuildConfigFromFlags("", cluster.kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cluster.config.QPS, cluster.config.Burst = 100, 200
	cluster.kube = kubernetes.NewForConfigOrDie(cluster.config)
	cluster.dyn = dynamic.NewForConfigOrDie(cluster.config)
	os.Setenv("KUBECONFIG", cluster.kubeconfig)
	code := m.Run()
	if code != 0 {
		tailLogs()
	}
	return code
}

// findTwin finds the twin command: $INFER_HPA_TWIN_BIN/twin, else
// test/twin/.bin/twin in the repository (hack/build-twin.sh puts it there).
func findTwin() (string, error) {
	var cands []string
	if d := os.Getenv("INFER_HPA_TWIN_BIN"); d != "" {
		cands = append(cands, filepath.Join(d, "twin"))
	}
	if wd, err := os.Getwd(); err == nil {
		cands = append(cands, filepath.Join(wd, "..", "twin", ".bin", "twin"))
	}
	for _, c := range cands {
		if _, err := os.Stat(c); err == nil {
			return c, nil
		}
	}
	return "", fmt.Errorf("the twin is not built (looked for %s): run hack/build-twin.sh, or set INFER_HPA_TWIN_BIN", strings.Join(cands, ", "))
}

func tailLogs() {
	logs, _ := filepath.Glob(filepath.Join(cluster.stateDir, "*", "logs", "*.log"))
	more, _ := filepath.Glob(filepath.Join(cluster.stateDir, "logs", "*.log"))
	for _, l := range append(logs, more...) {
		b, _ := os.ReadFile(l)
		if i := bytes.LastIndexByte(b[:max(0, len(b)-3000)], '\n'); i > 0 {
			b = b[i+1:]
		}
		fmt.Fprintf(os.Stderr, "--- %s (tail)\n%s\n", l, b)
	}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
