package load

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options shape a run. It stops by itself: after Requests requests, after
// Duration, or when the context ends, whichever comes first.
type Options struct {
	// Concurrency bounds requests in flight; without Rate, that many
	// clients send back to back (a closed loop). Default 1.
	Concurrency int
	// Rate sends this many requests per second (an open loop, still
	// bounded by Concurrency in flight); 0 means closed loop.
	Rate float64
	// Requests and Duration bound the run; at least one must be set.
	Requests int
	Duration time.Duration
	// Model to ask for; empty: the first model of /v1/models.
	Model string
	// Prompt text (default "Why is the sky blue?") and MaxTokens (default 64).
	Prompt    string
	MaxTokens int
	// Chat uses /v1/chat/completions instead of /v1/completions; Stream
	// asks for SSE and measures the time to first token.
	Chat, Stream bool
	// Timeout per request (default 2m).
	Timeout time.Duration
}

func (o *Options) complete() error {
	if o.Requests <= 0 && o.Duration <= 0 {
		return errors.New("load: set Requests or Duration so the run ends")
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.Rate < 0 {
		return errors.New("load: Rate must not be negative")
	}
	if o.Prompt == "" {
		o.Prompt = "Why is the sky blue?"
	}
	if o.MaxTokens <= 0 {
		o.MaxTokens = 64
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	return nil
}

// Result summarises a run. Latencies are wall-clock.
type Result struct {
	Requests, Errors int
	// ByPod counts successful requests per pod.
	ByPod map[string]int
	// Latencies of successful requests, sorted; TTFT only with Stream.
	Latencies, TTFT []time.Duration
	// Tokens generated in all.
	Tokens  int
	Elapsed time.Duration
	// ErrorSamples holds the first few distinct errors.
	ErrorSamples []string
}

// Percentile of the successful latencies (p in 0–100).
func (r *Result) Percentile(p float64) time.Duration { return percentile(r.Latencies, p) }

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p / 100 * float64(len(sorted)-1))
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Throughput is successful requests per second.
func (r *Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests-r.Errors) / r.Elapsed.Seconds()
}

// String is a one-paragraph report.
func (r *Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d requests in %s, %d errors, %.1f req/s, %.0f tokens/s\n", r.Requests, r.Elapsed.Round(time.Millisecond),
		r.Errors, r.Throughput(), float64(r.Tokens)/max(r.Elapsed.Seconds(), 1e-9))
	fmt.Fprintf(&b, "latency p50 %s p90 %s p99 %s", r.Percentile(50).Round(time.Millisecond),
		r.Percentile(90).Round(time.Millisecond), r.Percentile(99).Round(time.Millisecond))
	if len(r.TTFT) > 0 {
		fmt.Fprintf(&b, ", time to first token p50 %s", percentile(r.TTFT, 50).Round(time.Millisecond))
	}
	pods := make([]string, 0, len(r.ByPod))
	for p := range r.ByPod {
		pods = append(pods, p)
	}
	slices.Sort(pods)
	for _, p := range pods {
		fmt.Fprintf(&b, "\n  %s: %d", p, r.ByPod[p])
	}
	for _, e := range r.ErrorSamples {
		fmt.Fprintf(&b, "\n  error: %s", e)
	}
	return b.String()
}

// Run sends requests to the Service's ready pods until a bound is reached.
func Run(ctx context.Context, t Target, o Options) (*Result, error) {
	if err := o.complete(); err != nil {
		return nil, err
	}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	eps, err := watchEndpoints(wctx, t)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{DialContext: egressDialer(t.EgressSocket), MaxIdleConnsPerHost: o.Concurrency,
		DisableCompression: true}
	defer tr.CloseIdleConnections()
	d := &driver{o: o, eps: eps, client: &http.Client{Transport: tr, Timeout: o.Timeout},
		res: &Result{ByPod: map[string]int{}}}
	if d.o.Model == "" {
		if d.o.Model, err = d.firstModel(ctx); err != nil {
			return nil, err
		}
	}
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	began := time.Now()
	d.run(ctx)
	d.res.Elapsed = time.Since(began)
	slices.Sort(d.res.Latencies)
	slices.Sort(d.res.TTFT)
	return d.res, nil
}

type driver struct {
	o      Options
	eps    *endpoints
	client *http.Client

	mu   sync.Mutex
	sent int
	res  *Result
}

// take reserves the next request; false when the count is reached.
func (d *driver) take() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.o.Requests > 0 && d.sent >= d.o.Requests {
		return false
	}
	d.sent++
	return true
}

func (d *driver) run(ctx context.Context) {
	var wg sync.WaitGroup
	if d.o.Rate == 0 {
		for range d.o.Concurrency {
			wg.Go(func() {
				for ctx.Err() == nil && d.take() {
					d.one(ctx)
				}
			})
		}
		wg.Wait()
		return
	}
	slots := make(chan struct{}, d.o.Concurrency)
	tick := time.NewTicker(time.Duration(float64(time.Second) / d.o.Rate))
	defer tick.Stop()
	for ctx.Err() == nil && d.take() {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() { defer func() { <-slots }(); d.one(ctx) })
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
	wg.Wait()
}

// one sends a request to the next ready pod and records the outcome.
func (d *driver) one(ctx context.Context) {
	ep, ok := d.eps.pick()
	began := time.Now()
	var ttft time.Duration
	tokens, err := 0, errors.New("no ready endpoint")
	if ok {
		tokens, ttft, err = d.send(ctx, ep.Addr)
	}
	lat := time.Since(began)
	if err != nil && ctx.Err() != nil {
		return // the run ended mid-request: not counted
	}
	if !ok {
		time.Sleep(50 * time.Millisecond) // no endpoint yet: do not spin
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.res.Requests++
	if err != nil {
		d.res.Errors++
		if msg := err.Error(); len(d.res.ErrorSamples) < 5 && !slices.Contains(d.res.ErrorSamples, msg) {
			d.res.ErrorSamples = append(d.res.ErrorSamples, msg)
		}
		return
	}
	d.res.ByPod[ep.Pod]++
	d.res.Latencies = append(d.res.Latencies, lat)
	d.res.Tokens += tokens
	if d.o.Stream {
		d.res.TTFT = append(d.res.TTFT, ttft)
	}
}

func (d *driver) body() []byte {
	req := map[string]any{"model": d.o.Model, "max_tokens": d.o.MaxTokens, "stream": d.o.Stream}
	if d.o.Chat {
		req["messages"] = []any{map[string]any{"role": "user", "content": d.o.Prompt}}
	} else {
		req["prompt"] = d.o.Prompt
	}
	b, _ := json.Marshal(req)
	return b
}

// send posts one request and returns the tokens received.
func (d *driver) send(ctx context.Context, addr string) (int, time.Duration, error) {
	path := "/v1/completions"
	if d.o.Chat {
		path = "/v1/chat/completions"
	}
	began := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, bytes.NewReader(d.body()))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, 0, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	if !d.o.Stream {
		var out struct {
			Usage struct {
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			return 0, 0, err
		}
		return out.Usage.CompletionTokens, 0, nil
	}
	tokens, ttft := 0, time.Duration(0)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if data == "[DONE]" {
			return tokens, ttft, nil
		}
		if strings.Contains(data, `"content":""`) {
			continue // the chat role preamble
		}
		if tokens == 0 {
			ttft = time.Since(began)
		}
		tokens++
	}
	if err := sc.Err(); err != nil {
		return tokens, ttft, err
	}
	return tokens, ttft, errors.New("stream ended without [DONE]")
}

// firstModel asks a ready pod which model it serves.
func (d *driver) firstModel(ctx context.Context) (string, error) {
	deadline := time.Now().Add(d.o.Timeout)
	for {
		if ep, ok := d.eps.pick(); ok {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ep.Addr+"/v1/models", nil)
			if err != nil {
				return "", err
			}
			resp, err := d.client.Do(req)
			if err != nil {
				return "", fmt.Errorf("load: /v1/models of pod %s: %w", ep.Pod, err)
			}
			defer resp.Body.Close()
			var out struct {
				Data []struct {
					ID string `json:"id"`
				} `json:"data"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Data) == 0 {
				return "", fmt.Errorf("load: /v1/models of pod %s: no model (%v)", ep.Pod, err)
			}
			return out.Data[0].ID, nil
		}
		if time.Now().After(deadline) {
			return "", errors.New("load: the service has no ready endpoint")
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
