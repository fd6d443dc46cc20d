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

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
	"github.com/infer-hpa/kubectl-infer-hpa/test/gcpfake"
)

// EnvWatchCapture names a file the watch test writes its final tmux
// capture to (the README's screen comes from there).
const EnvWatchCapture = "INFER_HPA_WATCH_CAPTURE"

var clusterLogsGVR = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "clusterlogs"}

// tutorialWorld is the tutorial's starting point on the twin, made by
// `kubectl infer-hpa setup` with Workload Identity granted in the local
// Google API server: the vLLM Deployment (1 replica) and its Service, the
// stand-in adapter (whose answers are logged to the adapter pod's log), and
// an HPA on vllm:num_requests_running at 4 per pod, 1–5 replicas.
type tutorialWorld struct {
	ns      string
	adapter *standIn
	logFile string
}

func newTutorialWorld(t *testing.T, ns string) *tutorialWorld {
	t.Helper()
	fake := localGoogle(t)

	w := &tutorialWorld{ns: namespace(t, ns), adapter: startStandIn(t)}
	w.logFile = adapterLogFile(t)
	w.adapter.mu.Lock()
	w.adapter.onServe = func(metric, ns string, pods int, value string) {
		appendCRILog(w.logFile, fmt.Sprintf("I%s       1 provider.go:112] served %s in %s: %d pods, %s each",
			time.Now().UTC().Format("0102 15:04:05.000000"), shortMetric(metric), ns, pods, value))
	}
	w.adapter.mu.Unlock()
	w.setTotal(1)
	vllmDeployment(t, w.ns, vllmName, "gemma-server", 8081, true)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "llm-service"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "gemma-server"},
			Ports: []corev1.ServicePort{{Port: 8000, TargetPort: intstr.FromInt32(8081)}}},
	}
	if _, err := cluster.kube.CoreV1().Services(w.ns).Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := plugin(t, cluster.kubeconfig, "setup", "-n", w.ns, "--metric", "running=4", "--behavior", "tutorial",
		"--min", "1", "--max", "5", "--timeout", "90s")
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
// the twin's project and points the plugin at it for the test.
func localGoogle(t *testing.T) *gcpfake.Server {
	t.Helper()
	fake := gcpfake.New()
	fake.AddProject(twinProject, 123456789012)
	fake.AddCluster(twinProject, "us-central1", "twin", true) // the twin's context, gke_twin-project_us-central1_twin
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	t.Setenv(gcp.EnvIAMEndpoint, srv.URL+"/")
	t.Setenv(gcp.EnvCRMEndpoint, srv.URL+"/")
	t.Setenv(gcp.EnvContainerEndpoint, srv.URL+"/")
	return fake
}

// setTotal sets the requests running over all the Deployment's pods.
func (w *tutorialWorld) setTotal(v float64) {
	w.adapter.mu.Lock()
	w.adapter.total[runningMetric] = v
	w.adapter.mu.Unlock()
}

// ramp sets the load (requests running over all pods) to each value in
// turn, holding each for step, until ctx ends.
func (w *tutorialWorld) ramp(ctx context.Context, step time.Duration, values ...float64) {
	for _, v := range values {
		w.setTotal(v)
		select {
		case <-ctx.Done():
			return
		case <-time.After(step):
		}
	}
}

func shortMetric(m string) string {
	if parts := strings.Split(m, "|"); len(parts) == 3 {
		return parts[1]
	}
	return m
}

// adapterLogFile gives every pod in custom-metrics (the adapter's) a log
// file through kwok's ClusterLogs; kwok serves it to `kubectl logs -f` and
// to watch's log tail as the container's log.
func adapterLogFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "adapter.log")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	name := "infer-hpa-e2e-adapter-log"
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterLogs",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"selector": map[string]any{"matchNamespaces": []any{"custom-metrics"}},
			"logs":     []any{map[string]any{"containers": []any{"pod-custom-metrics-stackdriver-adapter"}, "logsFile": path, "follow": true}},
		},
	}}
	res := cluster.dyn.Resource(clusterLogsGVR)
	_ = res.Delete(context.Background(), name, metav1.DeleteOptions{})
	if _, err := res.Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("ClusterLogs for the stand-in adapter: %v", err)
	}
	t.Cleanup(func() { _ = res.Delete(context.Background(), name, metav1.DeleteOptions{}) })
	appendCRILog(path, "I"+time.Now().UTC().Format("0102 15:04:05.000000")+"       1 main.go:92] stand-in adapter serving custom.metrics.k8s.io")
	return path
}

var logMu sync.Mutex

// appendCRILog appends a line in the CRI log format kwok reads.
func appendCRILog(path, line string) {
	logMu.Lock()
	defer logMu.Unlock()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s stdout F %s\n", time.Now().UTC().Format(time.RFC3339Nano), line)
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

// TestWatchScaleUp: the tutorial's section IV on the twin, with the test's
// stand-in adapter. `watch` runs in tmux at 120×40 while the load rises and
// the real HPA controller scales the Deployment from 1 to 3 replicas.
func TestWatchScaleUp(t *testing.T) {
	needE2E(t)
	w := newTutorialWorld(t, "e2e-watch")
	watchScaleUp(t, scaleUpCase{
		kubeconfig: cluster.kubeconfig, namespace: w.ns, adapterLine: "provider.go:112] served",
		drive: func(ctx context.Context) { w.ramp(ctx, 3*time.Second, 1, 2, 4, 6, 9, 12) },
		// (12 requests at a target of 4 per pod ask for 3 replicas.)
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
