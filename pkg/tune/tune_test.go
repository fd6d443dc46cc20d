package tune

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/load"
)

// model is the twin simulator's stated latency formula (test/twin/sim/vllm
// Model.Latency) for prompt P and output N tokens with batch limit B.
type model struct {
	base, perSeq, prefill time.Duration
	p, n, b               int
}

func (m model) latency(c int) time.Duration {
	run := min(c, m.b)
	l := time.Duration(m.n)*(m.base+time.Duration(run)*m.perSeq) + time.Duration(run*m.p)*m.prefill
	if c > m.b {
		l = time.Duration(float64(l) * float64(c) / float64(m.b))
	}
	return l
}

var gemma = model{base: 15 * time.Millisecond, perSeq: 100 * time.Microsecond, prefill: 50 * time.Microsecond, p: 128, n: 32, b: 16}

// fakeSweep runs Sweep against the formula: each step reports its latency
// and throughput; the "pod" reports min(c, B) running, the rest waiting.
func fakeSweep(m model, slo []Bound) *Result {
	cur := 0
	return Sweep(context.Background(), Options{
		StageDuration: 40 * time.Millisecond, ScrapeEvery: 5 * time.Millisecond,
		RunStage: func(_ context.Context, c int, d time.Duration) load.StageReport {
			cur = c
			l := m.latency(c)
			q := load.Quantiles{P50: l, P90: l * 11 / 10, P99: l * 12 / 10, Mean: l, N: 100}
			time.Sleep(d)
			return load.StageReport{Requests: 100, OK: 100, E2E: q, TTFT: q, ITL: q,
				TokenRate: float64(c*m.n) / l.Seconds(), RequestRate: float64(c) / l.Seconds()}
		},
		Scrape: func(context.Context) (map[string]float64, error) {
			return map[string]float64{MetricRunning: float64(min(cur, m.b)), MetricWaiting: float64(max(0, cur-m.b)), MetricKVCache: 0.3}, nil
		},
		SLO: slo,
	})
}

// TestSweepFindsKnee: without an SLO the sweep stops at the knee B = 16
// and recommends running = floor(16 / 1.1) = 14.
func TestSweepFindsKnee(t *testing.T) {
	r := fakeSweep(gemma, nil)
	if r.Good == nil || r.Good.Concurrency != 16 || r.Bad == nil || !strings.Contains(r.Reason, "saturated") {
		t.Fatalf("good %+v bad %+v reason %q", r.Good, r.Bad, r.Reason)
	}
	rec, err := Recommend(r, 90*time.Second)
	if err != nil || rec.Running != 14 || rec.Waiting != 1 || rec.KVCache != 0.27 || rec.Behavior != "gpu" {
		t.Fatalf("recommendation %+v, %v", rec, err)
	}
	var b strings.Builder
	if err := WriteEvidence(&b, r); err != nil || !strings.Contains(b.String(), "saturated") {
		t.Errorf("evidence:\n%s", b.String())
	}
}

// TestSweepSLO: with e2e-p90 ≤ 660ms the formula allows L(c)·1.1 ≤ 660ms,
// c ≤ 12.5; the sweep must bisect to 12 and recommend floor(12/1.1) = 10.
func TestSweepSLO(t *testing.T) {
	r := fakeSweep(gemma, []Bound{{Metric: "e2e", Pct: 90, Max: 660 * time.Millisecond}})
	if r.Good == nil || r.Good.Concurrency != 12 {
		t.Fatalf("good %+v, steps %d, reason %q", r.Good, len(r.Steps), r.Reason)
	}
	rec, err := Recommend(r, 5*time.Second)
	if err != nil || rec.Running != 10 || rec.Behavior != "kubernetes" {
		t.Fatalf("recommendation %+v, %v", rec, err)
	}
	// Even c=1 breaks a tight SLO: an error that says what to do.
	r = fakeSweep(gemma, []Bound{{Metric: "e2e", Pct: 90, Max: 10 * time.Millisecond}})
	if _, err := Recommend(r, 0); err == nil || !strings.Contains(err.Error(), "relax --slo") {
		t.Errorf("tight SLO: %v", err)
	}
}

func TestSaturated(t *testing.T) {
	st := func(c int, tok float64, p50 time.Duration) *Step {
		return &Step{Concurrency: c, Report: load.StageReport{TokenRate: tok, E2E: load.Quantiles{Mean: p50}}}
	}
	for _, c := range []struct {
		g, k *Step
		want bool
	}{
		{st(8, 1000, time.Second), st(16, 1900, 1100*time.Millisecond), false}, // scales
		{st(8, 1000, time.Second), st(16, 1050, 1900*time.Millisecond), true},  // flat, latency doubles
		{st(8, 1000, time.Second), st(16, 1100, 1200*time.Millisecond), false}, // flat but latency fine (client-bound)
		{st(16, 1000, time.Second), st(24, 1100, 1500*time.Millisecond), true}, // r = 1.5: +10% < 12.5%, +50% > 25%
		{st(8, 0, time.Second), st(16, 100, time.Second), false},
	} {
		if got := Saturated(c.g, c.k); got != c.want {
			t.Errorf("Saturated(%d→%d) = %v, want %v", c.g.Concurrency, c.k.Concurrency, got, c.want)
		}
	}
}

func TestParseSLO(t *testing.T) {
	b, err := ParseSLO("ttft-p90=2s, itl-p99=100ms,e2e=30s")
	if err != nil || len(b) != 3 || b[0] != (Bound{"ttft", 90, 2 * time.Second}) || b[1].Pct != 99 || b[2] != (Bound{"e2e", 90, 30 * time.Second}) {
		t.Fatalf("ParseSLO = %+v, %v", b, err)
	}
	for in, want := range map[string]string{
		"ttft=fast":     `"fast" is not a positive duration`,
		"ttft-p95=1s":   "percentile p95",
		"tpot-p90=1s":   `unknown metric "tpot"`,
		"ttft-p90":      "has no =DURATION",
		"":              "--slo is empty",
		"e2e-p90=-1s":   "positive duration",
		"ttft-p90=2s,x": "has no =DURATION",
	} {
		_, err := ParseSLO(in)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseSLO(%q) = %v, want one line containing %q", in, err, want)
		}
	}
}

func TestParseMetrics(t *testing.T) {
	body := []byte(`# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 7
vllm:num_requests_waiting{engine="0",model_name="m"} 2.5
vllm:gpu_cache_usage_perc{model_name="m"} 0.4
vllm:num_preemptions_total{engine="0",model_name="m",reason="a b}c"} 3
vllm:num_preemptions_total{engine="1"} 1 1700000000000
`)
	m, err := ParseMetrics(body)
	if err != nil {
		t.Fatal(err)
	}
	if m[MetricRunning] != 7 || m[MetricWaiting] != 2.5 || m[MetricKVCacheOld] != 0.4 || m[MetricPreemptions] != 4 {
		t.Errorf("ParseMetrics = %v", m)
	}
	var a gaugeAcc
	a.add(m)
	m[MetricPreemptions] = 10
	a.add(m)
	if g := a.gauges(); g.Running != 7 || g.KVCacheMetric != MetricKVCacheOld || g.Preemptions != 6 || g.Samples != 2 {
		t.Errorf("gauges = %+v", g)
	}
	if _, err := ParseMetrics([]byte("<html>a web page</html>\n")); err == nil {
		t.Error("a body that is not Prometheus text must be an error")
	}
}
