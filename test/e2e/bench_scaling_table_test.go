package e2e

import (
	"math"
	"strings"
	"testing"
	"time"
)

// The benchmark's arithmetic on fixed samples (runs without the twin).
func TestBenchScalingArithmetic(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	// spec.replicas: 1, up to 2 at +30s, 4 at +90s, down to 3 at +120s
	// (a flap: the load is still held), back to 4 at +150s (another), down
	// to 1 after the step (+260s: expected, not a flap).
	spec := map[int]int32{0: 1, 30: 2, 90: 4, 120: 3, 150: 4, 260: 1}
	ready := map[int]int32{0: 1, 60: 2, 120: 3, 180: 4, 270: 1}
	r := &scalingRun{step: at(0), stepEnd: at(240), end: at(300)}
	var s, rd int32 = 1, 1
	for i := -60; i <= 300; i += 10 {
		if v, ok := spec[i]; ok {
			s = v
		}
		if v, ok := ready[i]; ok {
			rd = v
		}
		r.samples = append(r.samples, replicaSample{at: at(i), spec: s, existing: s, ready: rd})
	}
	if d := r.firstAfter(func(x replicaSample) bool { return x.spec > 1 }); d != 30*time.Second {
		t.Errorf("first scale-up after %s, want 30s", d)
	}
	if d := r.firstAfter(func(x replicaSample) bool { return x.ready >= 4 }); d != 180*time.Second {
		t.Errorf("4 ready after %s, want 180s", d)
	}
	if d := r.firstAfter(func(x replicaSample) bool { return x.ready >= 9 }); d != -1 {
		t.Errorf("never: %s", d)
	}
	// Pods existing from 0 to 240s: 1·30 + 2·60 + 4·30 + 3·30 + 4·90 = 720 pod-seconds.
	if m := r.replicaMinutes(r.stepEnd); math.Abs(m-12) > 1e-9 {
		t.Errorf("replica-minutes of the step %.2f, want 12", m)
	}
	// + 4·20 + 1·40 to 300s.
	if m := r.replicaMinutes(r.end); math.Abs(m-14) > 1e-9 {
		t.Errorf("replica-minutes to the end %.2f, want 14", m)
	}
	n, moves := r.flaps()
	if n != 2 || moves != "1→2@+30s 2→4@+90s 4→3@+120s 3→4@+150s 4→1@+260s" {
		t.Errorf("flaps %d (%s), want 2", n, moves)
	}
	// 1·30 + 3·210 pod-seconds in the step, + 3·10 + 2·30 + 1·20 after.
	calm := &scalingRun{name: "calm", step: at(0), stepEnd: at(240), end: at(300), samples: []replicaSample{
		{at: at(-60), spec: 1, existing: 1}, {at: at(30), spec: 3, existing: 3}, {at: at(250), spec: 2, existing: 2},
		{at: at(280), spec: 1, existing: 1}, {at: at(300), spec: 1, existing: 1}}}
	if n, _ := calm.flaps(); n != 0 {
		t.Errorf("up then down after the load: %d flaps, want 0", n)
	}
	if a, b := calm.replicaMinutes(calm.stepEnd), calm.replicaMinutes(calm.end); math.Abs(a-11) > 1e-9 || math.Abs(b-770.0/60) > 1e-9 {
		t.Errorf("replica-minutes %.2f, %.2f; want 11, 12.83", a, b)
	}
	r.name = "tutorial"
	table := scalingTable(benchScalingParams{sync: 15 * time.Second, baseline: time.Minute, hold: 4 * time.Minute, tail: time.Minute, clients: 16, maxNumSeqs: 8, maxReplicas: 6, slo: "ttft-p90=500ms"},
		2, []string{"--metric", "running=7", "--behavior", "gpu"}, []*scalingRun{r, calm})
	for _, want := range []string{"never", "1.00 (tutorial / tuned)", "0.92 (tuned / tutorial)", "flaps per 10 min", "3.3", "running=7"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

func TestTuneRecommendationParse(t *testing.T) {
	out := `  running: the pod held 8.0 requests at concurrency 8 (the last step below the knee; 7.6 running, 0.4 waiting, batch peak 8.0), less 10% for the HPA's tolerance: 7
recommended:
  kubectl infer-hpa setup vllm-gemma-deployment -n default --metric running=7 --behavior gpu --max 5
`
	flags, good := tuneRecommendation(t, out)
	if strings.Join(flags, " ") != "--metric running=7 --behavior gpu" || good != 8 {
		t.Errorf("flags %q, good %d", flags, good)
	}
}
