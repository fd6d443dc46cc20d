package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// EnvBenchWatch turns TestWatchBenchmark on (hack/bench-watch.sh sets it).
const EnvBenchWatch = "INFER_HPA_BENCH_WATCH"

// TestWatchBenchmark measures `watch` on the twin (not a timed test: it
// prints figures and fails only if it cannot measure). The real binary runs
// in tmux at 120×40 against a counting proxy in front of the apiserver:
//
//   - frame delay: from an HPA status update sent to the apiserver (the
//     test writes status.desiredReplicas) until tmux's screen shows it,
//     polled with capture-pane as fast as it runs (a few ms);
//
//   - idle CPU of the watch process over 60 s with nothing changing
//     (still polling custom.metrics.k8s.io every 5 s), from /proc;
//
//   - peak RSS (VmHWM) of the process;
//
//   - LIST requests after start-up (everything else should ride on watches).
//
//     INFER_HPA_E2E=1 INFER_HPA_BENCH_WATCH=1 go test -run TestWatchBenchmark -v ./test/e2e/
func TestWatchBenchmark(t *testing.T) {
	needE2E(t)
	if os.Getenv(EnvBenchWatch) == "" {
		t.Skip("set INFER_HPA_BENCH_WATCH=1 (make bench-watch does) to measure watch on the twin")
	}
	idle := 60 * time.Second
	if d, err := time.ParseDuration(os.Getenv("INFER_HPA_BENCH_IDLE")); err == nil {
		idle = d
	}
	// The real adapter logs a query line per HPA sync (2 s), which watch's
	// log panel tails: idle means no load, not a silent adapter.
	w := newTutorialWorld(t, "bench-watch")
	ctx := context.Background()
	hpas := cluster.kube.AutoscalingV2().HorizontalPodAutoscalers(w.ns)
	eventually(t, 60*time.Second, "the HPA to read its metric", func(ctx context.Context) string {
		h, err := hpas.Get(ctx, vllmName, metav1.GetOptions{})
		if err != nil || len(h.Status.CurrentMetrics) == 0 {
			return fmt.Sprintf("no metric yet (%v)", err)
		}
		return ""
	})

	proxy := startCountingProxy(t, cluster.config)
	bin := mustPluginBinary(t)
	tm := startTmux(t, 120, 40, bin, "watch", vllmName, "-n", w.ns, "--kubeconfig", proxy.kubeconfig)
	waitPane(t, tm, 30*time.Second, "the first frame with the HPA's metric", func(s string) bool {
		return paneMetric.MatchString(s) && strings.Contains(s, "Pods 1/1 ready")
	})
	pid := tm.childPID()
	time.Sleep(2 * time.Second)
	startup, sinceStartup := proxy.reset(), time.Now()

	// Frame delay. With no metric the HPA controller keeps whatever
	// desiredReplicas says (it only writes conditions), so the test's writes
	// stand until the next one.
	// A metric nobody records: the real adapter answers no values.
	lost := `{"spec":{"metrics":[{"type":"Pods","pods":{"metric":{"name":"prometheus.googleapis.com|vllm:e2e_not_recorded|gauge"},"target":{"type":"AverageValue","averageValue":"4"}}}]}}`
	if _, err := hpas.Patch(ctx, vllmName, types.MergePatchType, []byte(lost), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the HPA to lose its metric", func(ctx context.Context) string {
		h, err := hpas.Get(ctx, vllmName, metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		for _, c := range h.Status.Conditions {
			if c.Type == "ScalingActive" && c.Status == "False" {
				return ""
			}
		}
		return "still ScalingActive"
	})
	time.Sleep(time.Second)
	var delays []time.Duration
	for i := range 20 {
		want := int32(2 + i%4)
		h, err := hpas.Get(ctx, vllmName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if h.Status.DesiredReplicas == want {
			want++
		}
		h.Status.DesiredReplicas = want
		shows := "desired " + strconv.Itoa(int(want)) + " "
		sent := time.Now()
		if _, err := hpas.UpdateStatus(ctx, h, metav1.UpdateOptions{}); err != nil {
			t.Logf("status update %d: %v (skipped)", i, err)
			continue
		}
		for time.Since(sent) < 5*time.Second {
			if strings.Contains(tm.capture(), shows) {
				delays = append(delays, time.Since(sent))
				break
			}
		}
		time.Sleep(time.Duration(700+37*i%300) * time.Millisecond) // vary the phase against the 250 ms tick
	}
	if len(delays) < 10 {
		t.Fatalf("only %d of 20 status updates were seen on screen", len(delays))
	}

	// Idle: the metric back, let the HPA settle, then nothing changes.
	back := strings.Replace(lost, "vllm:e2e_not_recorded", "vllm:num_requests_running", 1)
	if _, err := hpas.Patch(ctx, vllmName, types.MergePatchType, []byte(back), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the HPA to be ScalingActive again", func(ctx context.Context) string {
		h, err := hpas.Get(ctx, vllmName, metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		if h.Status.DesiredReplicas != 1 || len(h.Status.CurrentMetrics) == 0 {
			return fmt.Sprintf("desired %d", h.Status.DesiredReplicas)
		}
		return ""
	})
	time.Sleep(5 * time.Second)
	cpu0, at0 := cpuTime(t, pid), time.Now()
	time.Sleep(idle)
	cpu1, at1 := cpuTime(t, pid), time.Now()
	rss := peakRSS(t, pid)
	after := proxy.reset()

	slices.Sort(delays)
	pct := func(p float64) time.Duration {
		return delays[int(p*float64(len(delays)-1)+0.5)].Round(time.Millisecond)
	}
	idleCPU := 100 * (cpu1 - cpu0).Seconds() / at1.Sub(at0).Seconds()
	report := fmt.Sprintf(`watch on the twin (120×40 tmux, HPA sync 2s, metrics poll 5s)
frame delay, status update -> screen (n=%d): median %s, p90 %s, max %s   (goal <= 300ms)
idle CPU over %s: %.2f%% of a core   (goal <= 1%%)
peak RSS: %.1f MB   (goal <= 80 MB)
requests at start-up: %s
requests after start-up (%s): %s   LIST: %d   (goal 0)
`, len(delays), pct(0.5), pct(0.9), delays[len(delays)-1].Round(time.Millisecond), idle, idleCPU,
		float64(rss)/(1<<20), startup, time.Since(sinceStartup).Round(time.Second), after, after.lists)
	t.Log("\n" + report)
	if p := os.Getenv("INFER_HPA_BENCH_REPORT"); p != "" {
		_ = os.WriteFile(p, []byte(report), 0o644)
	}
}

// childPID is the pid of the command the pane's shell runs.
func (tm *tmux) childPID() int {
	tm.t.Helper()
	sh := strings.TrimSpace(tm.run("display-message", "-p", "-t", "w", "#{pane_pid}"))
	b, err := os.ReadFile(filepath.Join("/proc", sh, "task", sh, "children"))
	if err != nil {
		tm.t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		tm.t.Fatalf("the pane's shell %s has no child", sh)
	}
	pid, _ := strconv.Atoi(f[0])
	return pid
}

// cpuTime is the user+system CPU time of a process (/proc/PID/stat).
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64) // fields 14 and 15, counted after the comm field
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clockTicks
}

var vmHWM = regexp.MustCompile(`VmHWM:\s+(\d+) kB`)

// peakRSS is the process's peak resident set size in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := vmHWM.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmHWM in /proc/%d/status", pid)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

// countingProxy is a loopback HTTP proxy to the apiserver (with the admin
// credentials) that sorts the requests through it.
type countingProxy struct {
	kubeconfig string
	mu         sync.Mutex
	counts     requestCounts
}

type requestCounts struct {
	lists, watches, logs, metrics, other int
	listPaths                            []string
}

func (c requestCounts) String() string {
	s := fmt.Sprintf("%d WATCH, %d LIST, %d log streams, %d custom-metrics GETs, %d other", c.watches, c.lists, c.logs, c.metrics, c.other)
	if len(c.listPaths) > 0 {
		s += " (LISTs: " + strings.Join(c.listPaths, ", ") + ")"
	}
	return s
}

func startCountingProxy(t *testing.T, cfg *rest.Config) *countingProxy {
	t.Helper()
	target, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	transport, err := rest.TransportFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport, rp.FlushInterval = transport, -1
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		p.count(r)
		rp.ServeHTTP(rw, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	kc := clientcmdapi.NewConfig()
	kc.Clusters["proxy"] = &clientcmdapi.Cluster{Server: "http://" + ln.Addr().String()}
	kc.AuthInfos["proxy"] = &clientcmdapi.AuthInfo{}
	kc.Contexts["twin"] = &clientcmdapi.Context{Cluster: "proxy", AuthInfo: "proxy"}
	kc.CurrentContext = "twin"
	p.kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, p.kubeconfig); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *countingProxy) count(r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	q := r.URL.Query()
	switch {
	case q.Get("watch") == "true" || q.Get("watch") == "1":
		p.counts.watches++
	case strings.HasSuffix(r.URL.Path, "/log"):
		p.counts.logs++
	case strings.HasPrefix(r.URL.Path, "/apis/custom.metrics.k8s.io/"):
		p.counts.metrics++
	case r.Method == http.MethodGet && isCollection(r.URL.Path):
		p.counts.lists++
		p.counts.listPaths = append(p.counts.listPaths, r.URL.Path)
	default:
		p.counts.other++
	}
}

// isCollection: /api/v1/namespaces/NS/pods, /apis/G/V/namespaces/NS/R or a
// cluster-wide /api/v1/R, /apis/G/V/R (discovery paths are not).
func isCollection(path string) bool {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return false
	}
	if len(parts) >= 2 && parts[0] == "namespaces" {
		parts = parts[2:]
	}
	return len(parts) == 1
}

func (p *countingProxy) reset() requestCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.counts
	p.counts = requestCounts{}
	return c
}
