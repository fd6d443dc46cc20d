package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
	"github.com/infer-hpa/kubectl-infer-hpa/test/gcpfake"
)

// EnvWatchCapture names a file the watch test writes its final tmux
// capture to (the README's screen comes from there).
const EnvWatchCapture = "INFER_HPA_WATCH_CAPTURE"

// tutorialWorld is the tutorial's starting point on the twin, made by
// `kubectl infer-hpa setup` with Workload Identity granted in a local
// Google API server of the test's own (the adapter's identity is checked in
// the twin's, where TestMain granted it): the vLLM Deployment (1 replica,
// simulated vLLM) and its Service, the real adapter, and an HPA on
// vllm:num_requests_running at 4 per pod, 1–5 replicas.
type tutorialWorld struct {
	ns string
}

func newTutorialWorld(t *testing.T, ns string) *tutorialWorld {
	t.Helper()
	fake := localGoogle(t)

	w := &tutorialWorld{ns: namespace(t, ns)}
	vllmDeployment(t, w.ns, vllmName, "gemma-server", 8081, true)
	vllmService(t, w.ns, "llm-service", "gemma-server", 8081)
	r := plugin(t, cluster.kubeconfig, "setup", "-n", w.ns, "--metric", "running=4", "--behavior", "tutorial",
		"--min", "1", "--max", "5", "--scrape-interval", "5s", "--timeout", "90s")
	if r.code != 0 {
		t.Fatalf("setup: %s", r)
	}
	if !fake.HasRole(twinProject, "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/twin-project.svc.id.goog/subject/ns/custom-metrics/sa/custom-metrics-stackdriver-adapter", gcp.RoleMonitoringViewer) {
		t.Fatal("setup did not grant the adapter roles/monitoring.viewer in the local Google API server")
	}
	t.Cleanup(func() {
		if r := plugin(t, cluster.kubeconfig, "cleanup", "-n", w.ns, "--iam"); r.code != 0 {
			t.Errorf("cleanup: %s", r)
		}
	})
	return w
}

// twinProject is the twin's GCP project (its kubeconfig context names it).
const twinProject = "twin-project"

// localGoogle serves the local IAM + Cloud Resource Manager stand-in with
// the twin's project and points the plugin at it for the test (to count
// and fault its calls); the twin's own, which the adapter's metadata
// server asks, is left as TestMain set it.
func localGoogle(t *testing.T) *gcpfake.Server {
	t.Helper()
	fake := gcpfake.New()
	fake.AddProject(twinProject, twinProjectNumber)
	fake.AddCluster(twinProject, "us-central1", "twin", true) // the twin's context, gke_twin-project_us-central1_twin
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	t.Setenv(gcp.EnvIAMEndpoint, srv.URL+"/")
	t.Setenv(gcp.EnvCRMEndpoint, srv.URL+"/")
	t.Setenv(gcp.EnvContainerEndpoint, srv.URL+"/")
	return fake
}

// pluginBinary builds kubectl-infer_hpa once (or takes $INFER_HPA_PLUGIN_BIN).
var pluginBinary = sync.OnceValues(func() (string, error) {
	if p := os.Getenv("INFER_HPA_PLUGIN_BIN"); p != "" {
		return p, nil
	}
	dir, err := os.MkdirTemp("", "infer-hpa-plugin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "kubectl-infer_hpa")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/infer-hpa/kubectl-infer-hpa/cmd/kubectl-infer-hpa").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func mustPluginBinary(t testing.TB) string {
	t.Helper()
	bin, err := pluginBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// tmux runs one command in a detached tmux session of its own server.
type tmux struct {
	t    testing.TB
	sock string
}

// startTmux runs argv in a width×height pane; when argv exits the pane
// keeps its screen and shows the exit code.
func startTmux(t testing.TB, width, height int, argv ...string) *tmux {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed: apt-get install -y tmux (hack/ci-e2e.sh does so as root)")
	}
	tm := &tmux{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock")}
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	script := strings.Join(quoted, " ") + `; echo "[exited $?]"; sleep 3600`
	tm.run("-f", "/dev/null", "new-session", "-d", "-s", "w", "-x", strconv.Itoa(width), "-y", strconv.Itoa(height),
		"env", "TERM=xterm-256color", "sh", "-c", script)
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", tm.sock, "kill-server").Run() })
	return tm
}

func (tm *tmux) run(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", tm.sock}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// capture is the pane's text.
func (tm *tmux) capture() string { return tm.run("capture-pane", "-p", "-t", "w") }

func (tm *tmux) keys(keys ...string) { tm.run(append([]string{"send-keys", "-t", "w"}, keys...)...) }

var (
	paneMetric  = regexp.MustCompile(`vllm:num_requests_running (\d+(?:\.\d+)?) [▲▼]`)
	paneCurrent = regexp.MustCompile(`current (\d+)  desired (\d+)`)
	// plainRescaled: PlainPrinter's line for current replicas reaching 3+.
	plainRescaled = regexp.MustCompile(`(?m) replicas \d+ -> ([3-9]|\d\d+)$`)
)

// TestWatchScaleUp: the tutorial's section IV on the shared twin. `watch`
// runs in tmux at 120×40 while the plugin's load generator steps the
// requests in flight up to 12 and the real HPA controller, through the real
// adapter, scales the Deployment from 1 to 3 replicas; the log panel shows
// the real adapter's query lines.
func TestWatchScaleUp(t *testing.T) {
	needE2E(t)
	w := newTutorialWorld(t, "e2e-watch")
	watchScaleUp(t, scaleUpCase{
		kubeconfig: cluster.kubeconfig, namespace: w.ns, adapterLine: "filter_builder.go",
		drive: func(ctx context.Context) {
			// (12 requests at a target of 4 per pod ask for 3 replicas.)
			stop := startLoad(t, cluster.kubeconfig, w.ns, "llm-service", "--stages", "2x3s,4x3s,6x3s,9x3s,12x3m")
			<-ctx.Done()
			stop()
		},
	})
}

// scaleUpCase is one world in which load makes the HPA scale 1 → ≥3.
type scaleUpCase struct {
	kubeconfig, namespace string
	// adapterLine is text of an adapter log line that fits one screen line.
	adapterLine string
	// drive raises the load until ctx ends.
	drive func(ctx context.Context)
}

// watchScaleUp runs `watch` in tmux at 120×40 and `watch --plain
// --until-replicas 3` beside it, starts the load, and asserts that the screen
// shows the metric rising, 3 or more current replicas, a SuccessfulRescale
// event and the adapter's log, that the plain run exits 0, and that q quits.
func watchScaleUp(t *testing.T, c scaleUpCase) {
	bin := mustPluginBinary(t)
	common := []string{"watch", vllmName, "-n", c.namespace, "--kubeconfig", c.kubeconfig, "--metrics-interval", "1s"}
	tm := startTmux(t, 120, 40, append([]string{bin}, common...)...)

	var plainOut bytes.Buffer
	plain := exec.Command(bin, append(common, "--plain", "--until-replicas", "3", "--timeout", "150s")...)
	plain.Stdout, plain.Stderr = &plainOut, &plainOut
	if err := plain.Start(); err != nil {
		t.Fatal(err)
	}
	plainDone := make(chan error, 1)
	go func() { plainDone <- plain.Wait() }()

	// Let both show the starting state (1 replica) first.
	waitPane(t, tm, 60*time.Second, "the first frame with the HPA's metric", func(s string) bool {
		return paneMetric.MatchString(s) && paneCurrent.MatchString(s)
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.drive(ctx)

	var values []float64
	var screen string
	waitPane(t, tm, 150*time.Second, "3 replicas, the rescale event and the adapter's log on screen", func(s string) bool {
		screen = s
		if m := paneMetric.FindStringSubmatch(s); m != nil {
			v, _ := strconv.ParseFloat(m[1], 64)
			if len(values) == 0 || values[len(values)-1] != v {
				values = append(values, v)
			}
		}
		m := paneCurrent.FindStringSubmatch(s)
		if m == nil {
			return false
		}
		cur, _ := strconv.Atoi(m[1])
		return cur >= 3 && strings.Contains(s, "SuccessfulRescale") && strings.Contains(s, c.adapterLine)
	})
	t.Logf("metric values seen on screen: %v\nscreen:\n%s", values, screen)
	if !rose(values) {
		t.Errorf("the metric never rose on screen: %v", values)
	}
	mustContain(t, "screen", screen, "hpa/vllm-gemma-deployment → deployment/vllm-gemma", "Adapter log")
	if p := os.Getenv(EnvWatchCapture); p != "" {
		if err := os.WriteFile(p, []byte(screen), 0o644); err != nil {
			t.Error(err)
		}
	}

	select {
	case err := <-plainDone:
		if err != nil {
			t.Errorf("watch --plain --until-replicas 3: %v\n%s", err, plainOut.String())
		}
	case <-time.After(30 * time.Second):
		_ = plain.Process.Kill()
		t.Errorf("watch --plain --until-replicas 3 did not exit 30s after the screen showed 3 replicas\n%s", plainOut.String())
	}
	t.Logf("watch --plain:\n%s", plainOut.String())
	mustContain(t, "plain output", plainOut.String(), "SuccessfulRescale", "vllm:num_requests_running")
	if !plainRescaled.MatchString(plainOut.String()) {
		t.Error("the plain output has no line of the replicas reaching 3 or more")
	}

	tm.keys("q")
	waitPane(t, tm, 10*time.Second, "watch to quit on q", func(s string) bool { return strings.Contains(s, "[exited 0]") })
}

// rose reports whether some value is larger than an earlier one.
func rose(vs []float64) bool {
	for i := 1; i < len(vs); i++ {
		if vs[i] > vs[0] {
			return true
		}
	}
	return false
}

// waitPane captures the pane every 200ms until ok holds.
func waitPane(t *testing.T, tm *tmux, timeout time.Duration, what string, ok func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		last = tm.capture()
		if ok(last) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s; the screen:\n%s", what, timeout, last)
}
