package tune

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/load"
)

// Step is one measured stage of the sweep.
type Step struct {
	Concurrency int
	Report      load.StageReport
	Gauges      Gauges
	// Bad says why the step is past the limit: SLO violations,
	// "saturated", or "errors"; empty when it is within.
	Bad []string
}

// Options shape a sweep. RunStage and Scrape are the side effects.
type Options struct {
	// RunStage drives c closed-loop clients for d and reports them.
	RunStage func(ctx context.Context, c int, d time.Duration) load.StageReport
	// Scrape reads the pod's /metrics.
	Scrape func(ctx context.Context) (map[string]float64, error)
	// Start is the first concurrency (default 1); it doubles up to Max
	// (default 512).
	Start, Max int
	// StageDuration is the length of each step (default 1m).
	StageDuration time.Duration
	// MaxDuration bounds the whole sweep (default 15m).
	MaxDuration time.Duration
	// SLO bounds; empty: stop at saturation only.
	SLO []Bound
	// Refine is the number of extra steps that bisect between the last
	// good and the first bad concurrency (default 3; -1: none).
	Refine int
	// Progress is told about each step as it ends.
	Progress func(Step)
	// ScrapeEvery is the sampling period of /metrics (default a tenth of
	// a step, between 200ms and 2s).
	ScrapeEvery time.Duration
}

// Result is the sweep's outcome.
type Result struct {
	Steps []Step
	// Good is the highest concurrency within the limits (nil if even the
	// first step was past them); Bad the lowest one past them (nil if the
	// sweep ended first).
	Good, Bad *Step
	// Reason says why the sweep ended.
	Reason      string
	Interrupted bool
}

// Saturated is the knee test between a good step g and a step k at higher
// concurrency: raising the concurrency by a factor r = c_k/c_g should, below
// the knee, raise the output token rate by nearly as much, with latency
// growing gently. The step is saturated when the token rate gained less
// than a quarter of the concurrency's rise, (T_k/T_g − 1) < 0.25·(r − 1),
// while the mean end-to-end latency rose by more than half of it,
// (L_k/L_g − 1) > 0.5·(r − 1): the extra clients only queue. The mean, not
// the median: just past the knee most requests still run at once and only
// the ones that queued are slower (Little's law ties the mean to the
// throughput; the median can hide the queue).
func Saturated(g, k *Step) bool {
	r := float64(k.Concurrency) / float64(g.Concurrency)
	tg, tk := g.Report.TokenRate, k.Report.TokenRate
	lg, lk := g.Report.E2E.Mean.Seconds(), k.Report.E2E.Mean.Seconds()
	if r <= 1 || tg <= 0 || lg <= 0 {
		return false
	}
	return tk/tg-1 < 0.25*(r-1) && lk/lg-1 > 0.5*(r-1)
}

// maxErrorRate of a step's requests may fail before the step is bad.
const maxErrorRate = 0.05

func (o *Options) complete() {
	if o.Start < 1 {
		o.Start = 1
	}
	if o.Max < o.Start {
		o.Max = max(512, o.Start)
	}
	if o.StageDuration <= 0 {
		o.StageDuration = time.Minute
	}
	if o.MaxDuration <= 0 {
		o.MaxDuration = 15 * time.Minute
	}
	if o.Refine == 0 {
		o.Refine = 3
	}
	if o.ScrapeEvery <= 0 {
		o.ScrapeEvery = min(2*time.Second, max(o.StageDuration/10, 200*time.Millisecond))
	}
}

// Sweep doubles the concurrency from Start until a step is bad (SLO,
// saturation or errors), Max is passed or MaxDuration would be, then
// bisects between the last good and the first bad concurrency.
func Sweep(ctx context.Context, o Options) *Result {
	o.complete()
	res := &Result{}
	deadline := time.Now().Add(o.MaxDuration)
	step := func(c int) (*Step, bool) {
		if time.Until(deadline) < o.StageDuration {
			res.Reason = fmt.Sprintf("--max-duration %s reached", o.MaxDuration)
			return nil, false
		}
		s := o.measure(ctx, c)
		if ctx.Err() != nil {
			res.Interrupted = true
			res.Reason = "interrupted"
			return nil, false
		}
		s.Bad = judge(&o, res.Good, s)
		res.Steps = append(res.Steps, *s)
		if o.Progress != nil {
			o.Progress(*s)
		}
		return s, true
	}
	for c := o.Start; c <= o.Max; c *= 2 {
		s, ok := step(c)
		if !ok {
			return res
		}
		if len(s.Bad) > 0 {
			res.Bad = s
			break
		}
		res.Good = s
	}
	if res.Bad == nil {
		res.Reason = fmt.Sprintf("reached --max-concurrency %d within the limits", o.Max)
		return res
	}
	res.Reason = fmt.Sprintf("concurrency %d: %s", res.Bad.Concurrency, joinBad(res.Bad.Bad))
	for i := 0; i < o.Refine && res.Good != nil; i++ {
		lo, hi := res.Good.Concurrency, res.Bad.Concurrency
		if float64(hi-lo) <= math.Max(1, 0.15*float64(lo)) {
			break
		}
		s, ok := step((lo + hi) / 2)
		if !ok {
			break
		}
		if len(s.Bad) > 0 {
			res.Bad = s
			res.Reason = fmt.Sprintf("concurrency %d: %s", s.Concurrency, joinBad(s.Bad))
		} else {
			res.Good = s
		}
	}
	return res
}

func joinBad(b []string) string {
	s := ""
	for i, x := range b {
		if i > 0 {
			s += ", "
		}
		s += x
	}
	return s
}

// judge says why s is past the limits, compared with the good step g.
func judge(o *Options, g, s *Step) []string {
	bad := Violations(o.SLO, &s.Report)
	if g != nil && Saturated(g, s) {
		bad = append(bad, fmt.Sprintf("saturated (tokens/s %+.0f%%, mean e2e %+.0f%% vs concurrency %d)",
			100*(s.Report.TokenRate/g.Report.TokenRate-1), 100*(s.Report.E2E.Mean.Seconds()/g.Report.E2E.Mean.Seconds()-1), g.Concurrency))
	}
	if n := s.Report.Requests; n > 0 && float64(s.Report.ErrorCount()) > maxErrorRate*float64(n) {
		bad = append(bad, fmt.Sprintf("errors (%d of %d requests)", s.Report.ErrorCount(), n))
	}
	if s.Report.OK == 0 {
		bad = append(bad, "no request succeeded")
	}
	return bad
}

// measure runs one step and samples the pod's metrics after the first
// quarter of it (the warm-up, while the batch fills).
func (o *Options) measure(ctx context.Context, c int) *Step {
	sctx, stop := context.WithCancel(ctx)
	acc := &gaugeAcc{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		warm := time.NewTimer(o.StageDuration / 4)
		defer warm.Stop()
		select {
		case <-warm.C:
		case <-sctx.Done():
			return
		}
		t := time.NewTicker(o.ScrapeEvery)
		defer t.Stop()
		for {
			if m, err := o.Scrape(sctx); err == nil {
				acc.add(m)
			}
			select {
			case <-t.C:
			case <-sctx.Done():
				return
			}
		}
	}()
	rep := o.RunStage(ctx, c, o.StageDuration)
	stop()
	<-done
	return &Step{Concurrency: c, Report: rep, Gauges: acc.gauges()}
}
