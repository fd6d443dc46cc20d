package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// EnvBenchScaling turns TestBenchScaling on (make bench-scaling sets it):
// it takes about 25 minutes, so it is not part of the e2e run.
const EnvBenchScaling = "INFER_HPA_BENCH_SCALING"

// benchScalingParams are the knobs of make bench-scaling (environment
// variables of hack/bench-scaling.sh).
type benchScalingParams struct {
	sync, modelLoad, baseline, hold, tail time.Duration
	clients, maxNumSeqs, maxReplicas      int
	slo                                   string
}

func benchScalingFromEnv(t *testing.T) benchScalingParams {
	t.Helper()
	p := benchScalingParams{sync: 15 * time.Second, modelLoad: 30 * time.Second, baseline: time.Minute,
		hold: 4 * time.Minute, tail: 4 * time.Minute, clients: 16, maxNumSeqs: 8, maxReplicas: 6, slo: "ttft-p90=500ms"}
	durs := map[string]*time.Duration{"BENCH_HPA_SYNC": &p.sync, "BENCH_MODEL_LOAD": &p.modelLoad,
		"BENCH_BASELINE": &p.baseline, "BENCH_HOLD": &p.hold, "BENCH_TAIL": &p.tail}
	for k, d := range durs {
		if v := os.Getenv(k); v != "" {
			x, err := time.ParseDuration(v)
			if err != nil {
				t.Fatalf("%s=%q: %v", k, v, err)
			}
			*d = x
		}
	}
	ints := map[string]*int{"BENCH_CLIENTS": &p.clients, "BENCH_MAX_NUM_SEQS": &p.maxNumSeqs, "BENCH_MAX": &p.maxReplicas}
	for k, n := range ints {
		if v := os.Getenv(k); v != "" {
			x, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("%s=%q: %v", k, v, err)
			}
			*n = x
		}
	}
	if v := os.Getenv("BENCH_SLO"); v != "" {
		p.slo = v
	}
	return p
}

// replicaSample is the Deployment's scale at one instant.
type replicaSample struct {
	at                    time.Time
	spec, existing, ready int32
}

// scalingRun is what one HPA did under the load step.
type scalingRun struct {
	name                 string
	setupArgs            []string
	step, stepEnd, end   time.Time
	samples              []replicaSample
	ttftP90, e2eP90      time.Duration
	stepRequests, errors int
	errorKinds           map[string]int
}

// firstAfter is how long after the step the first sample satisfying ok
// came, or -1.
func (r *scalingRun) firstAfter(ok func(replicaSample) bool) time.Duration {
	for _, s := range r.samples {
		if !s.at.Before(r.step) && ok(s) {
			return s.at.Sub(r.step)
		}
	}
	return -1
}

// replicaMinutes integrates the pods that exist (each holds a GPU, Ready
// or still loading its model) from the step to until.
func (r *scalingRun) replicaMinutes(until time.Time) float64 {
	var m float64
	for i := 1; i < len(r.samples); i++ {
		a, b := r.samples[i-1], r.samples[i]
		from, to := a.at, b.at
		if from.Before(r.step) {
			from = r.step
		}
		if to.After(until) {
			to = until
		}
		if to.After(from) {
			m += float64(a.existing) * to.Sub(from).Minutes()
		}
	}
	return m
}

// flaps counts the scale direction changes of spec.replicas from the
// baseline to the end, less the one expected reversal: the first scale-down
// after the load has stopped.
func (r *scalingRun) flaps() (n int, moves string) {
	var dirs []int
	var trail []string
	var times []time.Time
	for i := 1; i < len(r.samples); i++ {
		a, b := r.samples[i-1], r.samples[i]
		if b.spec == a.spec {
			continue
		}
		d := 1
		if b.spec < a.spec {
			d = -1
		}
		dirs, times = append(dirs, d), append(times, b.at)
		trail = append(trail, fmt.Sprintf("%d→%d@%+.0fs", a.spec, b.spec, b.at.Sub(r.step).Seconds()))
	}
	expected := false
	for i := 1; i < len(dirs); i++ {
		if dirs[i] == dirs[i-1] {
			continue
		}
		if !expected && dirs[i] < 0 && !times[i].Before(r.stepEnd) {
			expected = true
			continue
		}
		n++
	}
	return n, strings.Join(trail, " ")
}

// TestBenchScaling is make bench-scaling: one twin (`twin up --demo`: the
// real HPA controller, the Managed Prometheus emulation, local Cloud
// Monitoring and the real Stackdriver adapter), the tutorial's Deployment
// with a batch limit (--max-num-seqs, so one pod has a knee), `tune` on it,
// then the same load step (1 client, then 16 held, then 0) against the
// tutorial's HPA and against tune's recommendation with the gpu preset,
// side by side.
func TestBenchScaling(t *testing.T) {
	needE2E(t)
	if os.Getenv(EnvBenchScaling) == "" {
		t.Skip("bench: set " + EnvBenchScaling + "=1 (make bench-scaling does); it takes about 25 minutes")
	}
	p := benchScalingFromEnv(t)
	kubeconfig, kube := demoTwin(t, "--gpu-nodes", strconv.Itoa(p.maxReplicas+1), "--hpa-sync-period", p.sync.String(),
		"--model-load-delay", p.modelLoad.String())
	waitVLLMReady(t, kube)
	limitBatch(t, kube, p.maxNumSeqs)

	// tune on the one pod, before any HPA exists.
	r := plugin(t, kubeconfig, "tune", "-n", "default", "--slo", p.slo, "--stage-duration", "15s",
		"--max-concurrency", strconv.Itoa(2*p.clients), "--max-duration", "6m", "--prompt-tokens", "128", "--output-tokens", "64")
	if r.code != 0 {
		t.Fatalf("tune: %s", r)
	}
	tuned, good := tuneRecommendation(t, r.stdout)
	enough := int32(math.Ceil(float64(p.clients) / float64(good)))
	t.Logf("tune: setup %s; one pod stays within %s up to %d clients: %d pods are enough for %d", strings.Join(tuned, " "), p.slo, good, enough, p.clients)

	base := []string{"setup", "-n", "default", "--max", strconv.Itoa(p.maxReplicas), "--timeout", "3m"}
	runs := []*scalingRun{
		{name: "tutorial", setupArgs: append(append([]string{}, base...), "--metric", "running=4", "--behavior", "tutorial")},
		{name: "tune+gpu", setupArgs: append(append([]string{}, base...), tuned...)},
	}
	t.Cleanup(func() {
		if r := plugin(t, kubeconfig, "cleanup", "-n", "default", "--iam"); r.code != 0 {
			t.Errorf("cleanup: %s", r)
		}
	})
	for _, run := range runs {
		waitOneReplica(t, kube)
		if r := plugin(t, kubeconfig, run.setupArgs...); r.code != 0 {
			t.Fatalf("setup (%s): %s", run.name, r)
		}
		driveStep(t, kube, kubeconfig, p, run)
	}
	report := scalingTable(p, enough, tuned, runs)
	fmt.Print(report)
	if f := os.Getenv("BENCH_SCALING_OUT"); f != "" {
		if err := os.WriteFile(f, []byte(report), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// limitBatch gives the tutorial's vLLM container --max-num-seqs and waits
// for the new pod to be the only one, Ready.
func limitBatch(t *testing.T, kube kubernetes.Interface, n int) {
	t.Helper()
	ctx := context.Background()
	d, err := kube.AppsV1().Deployments("default").Get(ctx, vllmName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := &d.Spec.Template.Spec.Containers[0]
	c.Args = append(c.Args, "--max-num-seqs="+strconv.Itoa(n))
	if _, err := kube.AppsV1().Deployments("default").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Minute, "the vLLM Deployment rolled out with --max-num-seqs", func(ctx context.Context) string {
		d, err := kube.AppsV1().Deployments("default").Get(ctx, vllmName, metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		st := d.Status
		if st.ObservedGeneration < d.Generation || st.UpdatedReplicas != 1 || st.Replicas != 1 || st.ReadyReplicas != 1 {
			return fmt.Sprintf("status %+v", st)
		}
		return ""
	})
}

// waitOneReplica waits until the Deployment is back at one Ready pod.
func waitOneReplica(t *testing.T, kube kubernetes.Interface) {
	t.Helper()
	eventually(t, 10*time.Minute, "the vLLM Deployment back at 1 Ready pod", func(ctx context.Context) string {
		d, err := kube.AppsV1().Deployments("default").Get(ctx, vllmName, metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		if st := d.Status; *d.Spec.Replicas != 1 || st.Replicas != 1 || st.ReadyReplicas != 1 {
			return fmt.Sprintf("spec %d, status %+v", *d.Spec.Replicas, st)
		}
		return ""
	})
}

// tuneRecommendation reads tune's setup line (its flags after the
// Deployment, less -n and --max) and the last concurrency within the SLO.
func tuneRecommendation(t *testing.T, stdout string) ([]string, int) {
	t.Helper()
	var flags []string
	for _, line := range strings.Split(stdout, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "kubectl infer-hpa setup ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		for i := 0; i < len(f); i++ {
			switch {
			case f[i] == "-n" || f[i] == "--max" || f[i] == "--min":
				i++
			case strings.HasPrefix(f[i], "--"):
				flags = append(flags, f[i])
				if !strings.Contains(f[i], "=") && i+1 < len(f) && !strings.HasPrefix(f[i+1], "-") {
					flags = append(flags, f[i+1])
					i++
				}
			}
		}
		break
	}
	m := regexp.MustCompile(`at concurrency (\d+)`).FindStringSubmatch(stdout)
	if len(flags) == 0 || m == nil {
		t.Fatalf("no recommendation in tune's output:\n%s", stdout)
	}
	good, _ := strconv.Atoi(m[1])
	return flags, good
}

// driveStep runs `load` (1 client for the baseline, the clients held, then
// none for the tail) through vllm-service while sampling the Deployment's
// scale every second.
func driveStep(t *testing.T, kube kubernetes.Interface, kubeconfig string, p benchScalingParams, run *scalingRun) {
	t.Helper()
	bin := os.Getenv("INFER_HPA_PLUGIN_BIN")
	if bin == "" {
		t.Fatal("INFER_HPA_PLUGIN_BIN: the plugin binary (hack/bench-scaling.sh builds it)")
	}
	stages := fmt.Sprintf("1x%s,%dx%s,0x%s", p.baseline, p.clients, p.hold, p.tail)
	cmd := exec.Command(bin, "--kubeconfig", kubeconfig, "load", "svc/vllm-service", "-n", "default", "--stages", stages,
		"--prompt-tokens", "128", "--output-tokens", "64", "--plain", "-o", "json")
	var stdout strings.Builder
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	var mu sync.Mutex
	var samples []replicaSample
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			if d, err := kube.AppsV1().Deployments("default").Get(ctx, vllmName, metav1.GetOptions{}); err == nil {
				mu.Lock()
				samples = append(samples, replicaSample{at: time.Now(), spec: *d.Spec.Replicas, existing: d.Status.Replicas, ready: d.Status.ReadyReplicas})
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The first stage begins when load prints its header.
	var began time.Time
	var errLines []string
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if began.IsZero() && strings.HasPrefix(sc.Text(), "load: ") {
			began = time.Now()
		}
		errLines = append(errLines, sc.Text())
	}
	err = cmd.Wait()
	stop()
	wg.Wait()
	if err != nil || began.IsZero() {
		t.Fatalf("load (%s): %v\n%s\n%s", run.name, err, stdout.String(), strings.Join(errLines, "\n"))
	}
	var rep struct {
		Stages []struct {
			Requests int                   `json:"requests"`
			Errors   map[string]int        `json:"errors"`
			TTFT     struct{ P90 float64 } `json:"ttftSeconds"`
			E2E      struct{ P90 float64 } `json:"e2eSeconds"`
		} `json:"stages"`
	}
	if err := json.Unmarshal([]byte(stdout.String()), &rep); err != nil || len(rep.Stages) != 3 {
		t.Fatalf("load report (%s): %v\n%s", run.name, err, stdout.String())
	}
	st := rep.Stages[1]
	run.step = began.Add(p.baseline)
	run.stepEnd = run.step.Add(p.hold)
	run.end = run.stepEnd.Add(p.tail)
	run.samples = samples
	run.ttftP90 = time.Duration(st.TTFT.P90 * float64(time.Second))
	run.e2eP90 = time.Duration(st.E2E.P90 * float64(time.Second))
	run.stepRequests = st.Requests
	run.errorKinds = st.Errors
	for _, n := range st.Errors {
		run.errors += n
	}
	_, moves := run.flaps()
	t.Logf("%s: %d requests in the step, %d errors, TTFT p90 %s; replicas %s", run.name, st.Requests, run.errors, run.ttftP90, moves)
}

// scalingTable prints the two runs side by side and as ratios.
func scalingTable(p benchScalingParams, enough int32, tuned []string, runs []*scalingRun) string {
	var b strings.Builder
	fmt.Fprintf(&b, "bench-scaling: load step 1 -> %d clients held %s, then 0 for %s (vllm-service, 128 prompt / 64 output tokens)\n", p.clients, p.hold, p.tail)
	fmt.Fprintf(&b, "twin: HPA sync period %s, PodMonitoring interval 15s, model load %s, --max-num-seqs=%d, --max %d\n", p.sync, p.modelLoad, p.maxNumSeqs, p.maxReplicas)
	fmt.Fprintf(&b, "tune (%s) recommends: %s; %d Ready pods are enough for %d clients\n\n", p.slo, strings.Join(tuned, " "), enough, p.clients)
	type row struct {
		what   string
		vals   [2]float64
		format func(float64) string
		ratio  string // "a/b" (tutorial over tuned: >1 = tuned better) or "b/a"
	}
	secs := func(v float64) string {
		if v < 0 {
			return "never"
		}
		return fmt.Sprintf("%.0f s", v)
	}
	var rows []row
	add := func(what string, f func(*scalingRun) float64, format func(float64) string, ratio string) {
		rows = append(rows, row{what, [2]float64{f(runs[0]), f(runs[1])}, format, ratio})
	}
	add("step -> first scale-up", func(r *scalingRun) float64 {
		return r.firstAfter(func(s replicaSample) bool { return s.spec > 1 }).Seconds()
	}, secs, "a/b")
	add(fmt.Sprintf("step -> %d Ready pods (enough)", enough), func(r *scalingRun) float64 {
		return r.firstAfter(func(s replicaSample) bool { return s.ready >= enough }).Seconds()
	}, secs, "a/b")
	add("client TTFT p90 in the step", func(r *scalingRun) float64 { return r.ttftP90.Seconds() },
		func(v float64) string {
			return time.Duration(v * float64(time.Second)).Round(time.Millisecond).String()
		}, "a/b")
	add("peak replicas", func(r *scalingRun) float64 {
		var m int32
		for _, s := range r.samples {
			m = max(m, s.spec)
		}
		return float64(m)
	}, func(v float64) string { return fmt.Sprintf("%.0f", v) }, "b/a")
	add("replica-minutes, step held", func(r *scalingRun) float64 { return r.replicaMinutes(r.stepEnd) },
		func(v float64) string { return fmt.Sprintf("%.1f", v) }, "b/a")
	add("replica-minutes, step + tail", func(r *scalingRun) float64 { return r.replicaMinutes(r.end) },
		func(v float64) string { return fmt.Sprintf("%.1f", v) }, "b/a")
	add("flaps per 10 min", func(r *scalingRun) float64 {
		n, _ := r.flaps()
		return float64(n) / r.end.Sub(r.step.Add(-p.baseline)).Minutes() * 10
	}, func(v float64) string { return fmt.Sprintf("%.1f", v) }, "")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "WHAT\t%s\t%s\tRATIO\n", strings.ToUpper(runs[0].name), strings.ToUpper(runs[1].name))
	for _, r := range rows {
		ratio := "-"
		a, c := r.vals[0], r.vals[1]
		switch {
		case r.ratio == "a/b" && a > 0 && c > 0:
			ratio = fmt.Sprintf("%.2f (tutorial / tuned)", a/c)
		case r.ratio == "b/a" && a > 0:
			ratio = fmt.Sprintf("%.2f (tuned / tutorial)", c/a)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.what, r.format(a), r.format(c), ratio)
	}
	tw.Flush()
	for _, r := range runs {
		_, moves := r.flaps()
		fmt.Fprintf(&b, "%s: spec.replicas %s (seconds from the step); %d requests, %d errors in the step", r.name, moves, r.stepRequests, r.errors)
		if len(r.errorKinds) > 0 {
			fmt.Fprintf(&b, " %v", r.errorKinds)
		}
		fmt.Fprintln(&b)
	}
	return b.String()
}
