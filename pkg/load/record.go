package load

import (
	"maps"
	"slices"
	"sync"
	"time"
)

// recorder collects outcomes per stage, and a window for live progress.
type recorder struct {
	mu     sync.Mutex
	stages []*stageRec
	win    windowRec
	total  int
	errs   int
}

type stageRec struct {
	stage          Stage
	began, ended   time.Time
	requests, ok   int
	cancelled      int
	tokens         int
	errors         map[string]int
	samples        []string
	ttft, itl, e2e Samples
	byEndpoint     map[string]int
}

type windowRec struct {
	done, errors, tokens int
	ttft                 Samples
	total, totalErrors   int
}

func newRecorder(stages []Stage) *recorder {
	r := &recorder{}
	for _, s := range stages {
		r.stages = append(r.stages, &stageRec{stage: s, errors: map[string]int{}, byEndpoint: map[string]int{}})
	}
	return r
}

func (r *recorder) begin(i int, t time.Time) {
	r.mu.Lock()
	r.stages[i].began = t
	r.mu.Unlock()
}

func (r *recorder) end(i int, t time.Time) {
	r.mu.Lock()
	r.stages[i].ended = t
	r.mu.Unlock()
}

func (r *recorder) stageLeft(i int, d time.Duration, now time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stages[i].began.Add(d).Sub(now)
}

func (r *recorder) cancelled(i int) {
	if i < 0 {
		return
	}
	r.mu.Lock()
	r.stages[i].cancelled++
	r.mu.Unlock()
}

// maxErrorSamples distinct error messages are kept per stage.
const maxErrorSamples = 3

func (r *recorder) add(i int, o Outcome) {
	if i < 0 {
		i = len(r.stages) - 1
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stages[i]
	s.requests++
	r.total++
	r.win.done++
	if o.Kind != "" {
		s.errors[o.Kind]++
		r.errs++
		r.win.errors++
		if msg := o.Err.Error(); len(s.samples) < maxErrorSamples && !slices.Contains(s.samples, msg) {
			s.samples = append(s.samples, msg)
		}
		return
	}
	s.ok++
	s.tokens += o.Tokens
	s.ttft.Add(o.TTFT)
	s.e2e.Add(o.E2E)
	for _, g := range o.Gaps {
		s.itl.Add(g)
	}
	s.byEndpoint[o.Endpoint]++
	r.win.tokens += o.Tokens
	r.win.ttft.Add(o.TTFT)
}

// window returns the progress window and starts a new one.
func (r *recorder) window() windowRec {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.win
	w.total, w.totalErrors = r.total, r.errs
	r.win = windowRec{}
	return w
}

func (r *recorder) report(elapsed time.Duration) *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := &Report{Elapsed: elapsed}
	for _, s := range r.stages {
		if s.began.IsZero() {
			continue // never reached (interrupted, or MaxRequests)
		}
		d := s.ended.Sub(s.began)
		if s.ended.IsZero() {
			d = time.Since(s.began)
		}
		st := StageReport{
			Stage: s.stage, Name: s.stage.Name(), Elapsed: d,
			Requests: s.requests, OK: s.ok, Cancelled: s.cancelled, OutputTokens: s.tokens,
			Errors: maps.Clone(s.errors), ErrorSamples: slices.Clone(s.samples),
			TTFT: s.ttft.Quantiles(), ITL: s.itl.Quantiles(), E2E: s.e2e.Quantiles(),
			ByEndpoint: maps.Clone(s.byEndpoint),
		}
		if sec := d.Seconds(); sec > 0 {
			st.RequestRate = float64(s.ok) / sec
			st.TokenRate = float64(s.tokens) / sec
		}
		rep.Stages = append(rep.Stages, st)
	}
	return rep
}
