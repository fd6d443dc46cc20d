package tune

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/load"
)

// Tolerance is the HPA's default: it acts only when a metric is more than
// 10 % off its target, so a target must sit that far below the limit for
// the scale-up to start by the time the limit is reached.
const Tolerance = 0.1

// Recommendation is what tune proposes.
type Recommendation struct {
	// Running, Waiting and KVCache targets (0: no recommendation).
	Running, Waiting int
	KVCache          float64
	Behavior         string
	// StartToReady is the pod's measured model-load time (0: unknown).
	StartToReady time.Duration
	// Notes explain each number.
	Notes []string
}

// Recommend turns the sweep into targets: the metrics' values at the
// last good step, divided by 1 + Tolerance.
func Recommend(r *Result, startToReady time.Duration) (*Recommendation, error) {
	if r.Good == nil {
		if len(r.Steps) == 0 {
			return nil, fmt.Errorf("the sweep measured nothing (%s)", r.Reason)
		}
		return nil, fmt.Errorf("even concurrency %d is past the limits (%s): relax --slo, or check the pod serves requests", r.Steps[0].Concurrency, joinBad(r.Steps[0].Bad))
	}
	g := r.Good.Gauges
	rec := &Recommendation{StartToReady: startToReady, Behavior: "gpu"}
	if g.Samples == 0 {
		return nil, fmt.Errorf("no sample of the pod's /metrics was read during the sweep: check that its metrics are served on the vLLM port")
	}
	limit := "the last step within the limits"
	if r.Bad != nil && strings.Contains(joinBad(r.Bad.Bad), "saturated") {
		limit = "the last step below the knee"
	}
	// The requests the pod holds at the last good step (in the batch or
	// queued for the next step) are what one pod sustains; the batch never
	// exceeds the peak seen in any step (its limit, past the knee).
	peak := 0.0
	for _, s := range r.Steps {
		peak = max(peak, s.Gauges.Running)
	}
	held := min(g.Running+g.Waiting, peak)
	rec.Running = max(1, int(math.Floor(held/(1+Tolerance))))
	rec.Notes = append(rec.Notes, fmt.Sprintf("running: the pod held %.1f requests at concurrency %d (%s; %.1f running, %.1f waiting, batch peak %.1f), less 10%% for the HPA's tolerance: %d",
		held, r.Good.Concurrency, limit, g.Running, g.Waiting, peak, rec.Running))
	rec.Waiting = max(1, int(math.Floor(g.Waiting/(1+Tolerance))))
	if g.Waiting < 1 {
		rec.Notes = append(rec.Notes, fmt.Sprintf("waiting: the queue stayed empty (%.1f) up to concurrency %d; waiting=1 adds a pod as soon as requests queue — running is the earlier signal", g.Waiting, r.Good.Concurrency))
	} else {
		rec.Notes = append(rec.Notes, fmt.Sprintf("waiting: %.1f queued at concurrency %d, less 10%%: %d", g.Waiting, r.Good.Concurrency, rec.Waiting))
	}
	if g.KVCacheMetric != "" && g.KVCache > 0 {
		rec.KVCache = math.Floor(100*g.KVCache/(1+Tolerance)) / 100
		if rec.KVCache > 0 {
			rec.Notes = append(rec.Notes, fmt.Sprintf("kv-cache: %.2f of the KV cache used at concurrency %d, less 10%%: %.2f", g.KVCache, r.Good.Concurrency, rec.KVCache))
		}
	}
	switch {
	case startToReady <= 0:
		rec.Notes = append(rec.Notes, "behavior gpu: the pod's start-to-Ready time is unknown; gpu adds at most 2 pods or 100% per minute and scales down slowly")
	case startToReady < 15*time.Second:
		rec.Behavior = "kubernetes"
		rec.Notes = append(rec.Notes, fmt.Sprintf("behavior kubernetes: pods are Ready %s after they start, quick enough for Kubernetes' default scale-up (4 pods or 100%% per 15s)", startToReady.Round(time.Second)))
	default:
		rec.Notes = append(rec.Notes, fmt.Sprintf("behavior gpu: pods take %s from start to Ready (model load); gpu adds at most 2 pods or 100%% per 60s so each step's pods report before the next, and keeps pods 5 minutes before scaling down", startToReady.Round(time.Second)))
	}
	return rec, nil
}

// MetricArgs are the setup --metric flags, the batch size first.
func (r *Recommendation) MetricArgs(all bool) []string {
	args := []string{"--metric", "running=" + strconv.Itoa(r.Running)}
	if all {
		args = append(args, "--metric", "waiting="+strconv.Itoa(r.Waiting))
	}
	return args
}

// WriteEvidence prints the sweep's steps: what the client measured and
// what the pod reported.
func WriteEvidence(w io.Writer, r *Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONCURRENCY\tREQ/S\tTOK/S\tTTFT p90\tITL p90\tE2E p50/p90\tRUNNING\tWAITING\tKV-CACHE\tPREEMPT\tERRORS\tVERDICT")
	for _, s := range r.Steps {
		verdict := "ok"
		if len(s.Bad) > 0 {
			verdict = joinBad(s.Bad)
		}
		kv := "-"
		if s.Gauges.KVCacheMetric != "" {
			kv = fmt.Sprintf("%.2f", s.Gauges.KVCache)
		}
		fmt.Fprintf(tw, "%d\t%.1f\t%.0f\t%s\t%s\t%s / %s\t%.1f\t%.1f\t%s\t%.0f\t%d\t%s\n", s.Concurrency, s.Report.RequestRate, s.Report.TokenRate,
			load.Short(s.Report.TTFT.P90), load.Short(s.Report.ITL.P90), load.Short(s.Report.E2E.P50), load.Short(s.Report.E2E.P90),
			s.Gauges.Running, s.Gauges.Waiting, kv, s.Gauges.Preemptions, s.Report.ErrorCount(), verdict)
	}
	return tw.Flush()
}
