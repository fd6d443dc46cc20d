package vllm

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// request is one generation in the engine.
type request struct {
	prompt, maxTokens int
	arrived           time.Time
	firstToken        time.Time
	generated         int
	// tokens receives the running count after each step (buffered to
	// maxTokens, so the engine never blocks on a slow reader).
	tokens  chan int
	done    chan struct{}
	aborted bool
}

func (r *request) need() int { return r.prompt + r.maxTokens }

// engine is the continuous-batching scheduler described on Model.
type engine struct {
	m       Model
	metrics *metrics

	mu       sync.Mutex
	waiting  []*request
	running  []*request
	reserved int // KV tokens reserved by running requests
	busy     time.Duration
	stats    Stats
	wake     chan struct{}
	stop     chan struct{}
	stopped  chan struct{}
}

// Stats is a snapshot of the engine.
type Stats struct {
	Running, Waiting int
	// KVCacheUsage is the fraction of KV cache tokens holding prompt and
	// generated tokens of running requests (0–1).
	KVCacheUsage float64
	// Busy is the wall-clock time during which at least one request ran.
	Busy time.Duration
	// Totals since start.
	PromptTokens, GenerationTokens, Finished, Aborted int64
}

func newEngine(m Model, mt *metrics) *engine {
	e := &engine{m: m, metrics: mt, wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	go e.loop()
	return e
}

var errTooLong = errors.New("prompt plus max_tokens exceeds the model's context length")

// submit queues a request; it is removed when ctx ends before it finishes.
func (e *engine) submit(prompt, maxTokens int) (*request, error) {
	if prompt+maxTokens > e.m.MaxModelLen || prompt+maxTokens > e.m.KVCacheTokens {
		return nil, errTooLong
	}
	r := &request{prompt: prompt, maxTokens: maxTokens, arrived: time.Now(),
		tokens: make(chan int, maxTokens), done: make(chan struct{})}
	e.mu.Lock()
	e.waiting = append(e.waiting, r)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
	return r, nil
}

// abort drops a request whose client went away.
func (e *engine) abort(r *request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if i := slices.Index(e.waiting, r); i >= 0 {
		e.waiting = slices.Delete(e.waiting, i, i+1)
		e.stats.Aborted++
		close(r.done)
		return
	}
	r.aborted = true // the engine removes it after the current step
}

func (e *engine) snapshot() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.stats
	s.Running, s.Waiting, s.Busy = len(e.running), len(e.waiting), e.busy
	used := 0
	for _, r := range e.running {
		used += r.prompt + r.generated
	}
	s.KVCacheUsage = float64(used) / float64(e.m.KVCacheTokens)
	return s
}

func (e *engine) close() {
	close(e.stop)
	<-e.stopped
}

func (e *engine) loop() {
	defer close(e.stopped)
	var deadline time.Time
	for {
		e.mu.Lock()
		newPrompt := e.admit()
		batch := len(e.running)
		e.mu.Unlock()
		if batch == 0 {
			select {
			case <-e.wake:
				continue
			case <-e.stop:
				e.drain()
				return
			}
		}
		step := e.m.Wall(e.m.StepTime(batch, newPrompt))
		now := time.Now()
		if deadline.Before(now.Add(-step)) {
			deadline = now // idle or behind: do not catch up with bursts
		}
		deadline = deadline.Add(step)
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-t.C:
		case <-e.stop:
			t.Stop()
			e.drain()
			return
		}
		e.finishStep(step)
	}
}

// admit moves waiting requests into the batch; e.mu is held. It returns
// the prompt tokens to prefill in this step.
func (e *engine) admit() int {
	newPrompt := 0
	for len(e.waiting) > 0 && len(e.running) < e.m.MaxNumSeqs {
		r := e.waiting[0]
		if e.reserved+r.need() > e.m.KVCacheTokens {
			break
		}
		e.waiting = e.waiting[1:]
		e.running = append(e.running, r)
		e.reserved += r.need()
		newPrompt += r.prompt
		e.stats.PromptTokens += int64(r.prompt)
		e.metrics.promptTokens.Add(float64(r.prompt))
	}
	return newPrompt
}

// finishStep gives every running request its next token.
func (e *engine) finishStep(step time.Duration) {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.busy += step
	kept := e.running[:0]
	for _, r := range e.running {
		if r.aborted {
			e.reserved -= r.need()
			e.stats.Aborted++
			close(r.done)
			continue
		}
		r.generated++
		e.stats.GenerationTokens++
		e.metrics.generationTokens.Inc()
		if r.generated == 1 {
			r.firstToken = now
			e.metrics.ttft.Observe(e.modelSeconds(now.Sub(r.arrived)))
		}
		r.tokens <- r.generated
		if r.generated < r.maxTokens {
			kept = append(kept, r)
			continue
		}
		e.reserved -= r.need()
		e.stats.Finished++
		e.metrics.e2e.Observe(e.modelSeconds(now.Sub(r.arrived)))
		e.metrics.success.Inc()
		close(r.done)
	}
	clear(e.running[len(kept):])
	e.running = kept
}

func (e *engine) modelSeconds(wall time.Duration) float64 {
	return wall.Seconds() * e.m.Speed
}

// drain ends every request at shutdown.
func (e *engine) drain() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range append(e.waiting, e.running...) {
		close(r.done)
	}
	e.waiting, e.running = nil, nil
}

// wait blocks until r finishes or ctx ends (then r is aborted).
func (e *engine) wait(ctx context.Context, r *request) error {
	select {
	case <-r.done:
		if r.generated < r.maxTokens {
			return errors.New("server shutting down")
		}
		return nil
	case <-ctx.Done():
		e.abort(r)
		return ctx.Err()
	}
}
