package load

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Endpoint is where one request goes: a base URL (http://host:port) and a
// name for the report (the pod, or the URL).
type Endpoint struct {
	Base, Name string
}

// Target hands out endpoints, round robin over the ready ones.
type Target interface {
	// Pick returns the next endpoint; false when none is ready.
	Pick() (Endpoint, bool)
}

// KindNoEndpoint counts requests not sent because no endpoint was ready;
// KindDropped open-loop arrivals not sent because MaxInFlight were in flight.
const (
	KindNoEndpoint = "no-endpoint"
	KindDropped    = "dropped"
)

// Options shape a run. Stages bound it in time; MaxRequests (if > 0) in
// requests; the run ends at whichever comes first.
type Options struct {
	Stages      []Stage
	MaxRequests int
	Workload    *Workload
	Client      *Client
	Target      Target
	// MaxInFlight caps open-loop requests in flight (default 1000).
	MaxInFlight int
	// Grace is how long requests in flight at the end may finish before
	// they are cancelled (default 30s).
	Grace time.Duration
	// Seed makes the synthetic prompts repeatable.
	Seed uint64
	// Tick, when set, is called every TickEvery (default 1s) with the
	// progress since the last call.
	Tick      func(Progress)
	TickEvery time.Duration
}

// Run drives the stages and returns what was measured. It returns when
// the stages are done, MaxRequests were sent, or ctx ends (ctrl-c): then
// requests in flight are cancelled, not counted, and the report is
// partial (Report.Interrupted).
func Run(ctx context.Context, o Options) *Report {
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 1000
	}
	if o.Grace <= 0 {
		o.Grace = 30 * time.Second
	}
	if o.TickEvery <= 0 {
		o.TickEvery = time.Second
	}
	r := &runner{o: o, rec: newRecorder(o.Stages)}
	r.issue, r.stopIssue = context.WithCancel(context.Background())
	r.reqCtx, r.cancelReqs = context.WithCancel(context.Background())
	defer r.cancelReqs()
	defer r.stopIssue()
	return r.run(ctx)
}

type runner struct {
	o   Options
	rec *recorder

	// issue ends when no more requests may start; reqCtx when requests in
	// flight are cancelled.
	issue, reqCtx         context.Context
	stopIssue, cancelReqs context.CancelFunc

	started  atomic.Int64
	inFlight atomic.Int64
	stage    atomic.Int32 // index of the stage running; -1 after the last

	// active is the closed-loop concurrency of the current stage; workers
	// with a higher id park until it rises.
	mu      sync.Mutex
	active  int
	changed chan struct{}
	workers int
	wg      sync.WaitGroup
}

func (r *runner) run(ctx context.Context) *Report {
	began := time.Now()
	tickDone := make(chan struct{})
	tickStop := make(chan struct{})
	if r.o.Tick != nil {
		go r.ticker(began, tickStop, tickDone)
	} else {
		close(tickDone)
	}
	r.changed = make(chan struct{})
	interrupted := false
stages:
	for i, st := range r.o.Stages {
		r.stage.Store(int32(i))
		r.rec.begin(i, time.Now())
		timer := time.NewTimer(st.Duration)
		stop := make(chan struct{})
		var dispatch sync.WaitGroup
		if st.Rate > 0 {
			r.setActive(0)
			dispatch.Go(func() { r.openLoop(i, st.Rate, stop) })
		} else {
			r.setActive(st.Concurrency)
			r.spawn(st.Concurrency)
		}
		select {
		case <-timer.C:
		case <-r.issue.Done(): // MaxRequests reached
		case <-ctx.Done():
			interrupted = true
		}
		timer.Stop()
		close(stop)
		dispatch.Wait()
		r.rec.end(i, time.Now())
		if interrupted || r.issue.Err() != nil {
			break stages
		}
	}
	r.stage.Store(-1)
	r.stopIssue()
	r.setActive(0)
	// Let requests in flight finish (within Grace), unless interrupted.
	drained := make(chan struct{})
	go func() { r.wg.Wait(); close(drained) }()
	if interrupted {
		r.cancelReqs()
	} else {
		select {
		case <-drained:
		case <-time.After(r.o.Grace):
		case <-ctx.Done():
			interrupted = true
		}
		r.cancelReqs()
	}
	<-drained
	close(tickStop)
	<-tickDone
	rep := r.rec.report(time.Since(began))
	rep.Interrupted = interrupted
	return rep
}

// take reserves one request; false once MaxRequests were started.
func (r *runner) take() bool {
	if r.issue.Err() != nil {
		return false
	}
	n := r.started.Add(1)
	if r.o.MaxRequests > 0 && n >= int64(r.o.MaxRequests) {
		if n > int64(r.o.MaxRequests) {
			return false
		}
		defer r.stopIssue()
	}
	return true
}

func (r *runner) setActive(n int) {
	r.mu.Lock()
	r.active = n
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// spawn makes sure n closed-loop workers exist.
func (r *runner) spawn(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ; r.workers < n; r.workers++ {
		id := r.workers
		r.wg.Go(func() { r.worker(id) })
	}
}

// worker sends requests back to back while its id is below the active
// concurrency, and parks otherwise.
func (r *runner) worker(id int) {
	rng := rand.New(rand.NewPCG(r.o.Seed, uint64(id)))
	var gaps []time.Duration
	for {
		r.mu.Lock()
		active, changed := r.active, r.changed
		r.mu.Unlock()
		if r.issue.Err() != nil {
			return
		}
		if id >= active {
			select {
			case <-changed:
			case <-r.issue.Done():
			}
			continue
		}
		if !r.take() {
			return
		}
		gaps = r.one(rng, gaps)
	}
}

// openLoop sends requests at Poisson arrivals of rate per second until stop.
func (r *runner) openLoop(stage int, rate float64, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(r.o.Seed, 1<<32+uint64(stage)))
	next := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		next = next.Add(time.Duration(rng.ExpFloat64() / rate * float64(time.Second)))
		timer.Reset(time.Until(next))
		select {
		case <-stop:
			return
		case <-r.issue.Done():
			return
		case <-timer.C:
		}
		if r.inFlight.Load() >= int64(r.o.MaxInFlight) {
			r.rec.add(int(r.stage.Load()), Outcome{Start: time.Now(), Kind: KindDropped,
				Err: errors.New("max in-flight requests reached: the server (or this client) cannot keep up with --rate")})
			continue
		}
		if !r.take() {
			return
		}
		seed := rng.Uint64()
		r.wg.Go(func() { r.one(rand.New(rand.NewPCG(r.o.Seed, seed)), nil) })
	}
}

// one sends a request and records it under the stage it started in.
func (r *runner) one(rng *rand.Rand, gaps []time.Duration) []time.Duration {
	stage := int(r.stage.Load())
	i := int(r.started.Load())
	ep, ok := r.o.Target.Pick()
	if !ok {
		r.rec.add(stage, Outcome{Start: time.Now(), Kind: KindNoEndpoint, Err: errors.New("no ready endpoint")})
		select { // do not spin while no pod is ready
		case <-time.After(100 * time.Millisecond):
		case <-r.issue.Done():
		}
		return gaps
	}
	r.inFlight.Add(1)
	out := r.o.Client.Do(r.reqCtx, ep.Base, r.o.Workload.Next(i, rng), gaps)
	r.inFlight.Add(-1)
	out.Endpoint = ep.Name
	if out.Kind == KindCanceled || out.Kind != "" && r.reqCtx.Err() != nil {
		r.rec.cancelled(stage)
		return out.Gaps
	}
	if stage >= 0 {
		r.rec.add(stage, out)
	}
	return out.Gaps
}

func (r *runner) ticker(began time.Time, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(r.o.TickEvery)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			w := r.rec.window()
			p := Progress{Elapsed: now.Sub(began), Stage: int(r.stage.Load()), InFlight: int(r.inFlight.Load()),
				Window: now.Sub(last), Done: w.done, Errors: w.errors, TotalErrors: w.totalErrors, Tokens: w.tokens,
				TTFTP50: w.ttft.Percentile(50), TTFTP90: w.ttft.Percentile(90), Total: w.total}
			if p.Stage >= 0 {
				p.StageName = r.o.Stages[p.Stage].Name()
				p.StageLeft = max(0, r.rec.stageLeft(p.Stage, r.o.Stages[p.Stage].Duration, now))
			}
			last = now
			r.o.Tick(p)
		}
	}
}

// Progress is what happened in the last tick's window.
type Progress struct {
	Elapsed   time.Duration
	Stage     int // -1: draining after the last stage
	StageName string
	StageLeft time.Duration
	InFlight  int
	Window    time.Duration
	// Done requests and their Errors and Tokens in the window.
	Done, Errors, Tokens int
	TTFTP50, TTFTP90     time.Duration
	// Total requests and errors since the start.
	Total, TotalErrors int
}

// RequestRate is requests per second in the window.
func (p Progress) RequestRate() float64 { return float64(p.Done) / max(p.Window.Seconds(), 1e-9) }

// TokenRate is output tokens per second in the window.
func (p Progress) TokenRate() float64 { return float64(p.Tokens) / max(p.Window.Seconds(), 1e-9) }
