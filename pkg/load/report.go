package load

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what a run measured, stage by stage.
type Report struct {
	Target      string        `json:"target"`
	Model       string        `json:"model"`
	Elapsed     time.Duration `json:"elapsed"`
	Interrupted bool          `json:"interrupted,omitempty"`
	Stages      []StageReport `json:"stages"`
}

// StageReport is one stage's numbers. Latencies are wall-clock, of
// successful requests; ITL is the gap between streamed tokens.
type StageReport struct {
	Stage        Stage          `json:"stage"`
	Name         string         `json:"name"`
	Elapsed      time.Duration  `json:"elapsed"`
	Requests     int            `json:"requests"`
	OK           int            `json:"ok"`
	Cancelled    int            `json:"cancelled,omitempty"`
	Errors       map[string]int `json:"errors,omitempty"`
	ErrorSamples []string       `json:"errorSamples,omitempty"`
	OutputTokens int            `json:"outputTokens"`
	RequestRate  float64        `json:"requestsPerSecond"`
	TokenRate    float64        `json:"outputTokensPerSecond"`
	TTFT         Quantiles      `json:"ttft"`
	ITL          Quantiles      `json:"itl"`
	E2E          Quantiles      `json:"e2e"`
	ByEndpoint   map[string]int `json:"byEndpoint,omitempty"`
}

// ErrorCount is the number of failed requests.
func (s *StageReport) ErrorCount() int {
	n := 0
	for _, v := range s.Errors {
		n += v
	}
	return n
}

// WriteJSON writes the report as indented JSON; durations in seconds.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r.jsonView(), "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// jsonView turns durations into seconds, which scripts read more easily
// than nanoseconds.
func (r *Report) jsonView() map[string]any {
	q := func(x Quantiles) map[string]any {
		return map[string]any{"p50": x.P50.Seconds(), "p90": x.P90.Seconds(), "p99": x.P99.Seconds(), "mean": x.Mean.Seconds(), "count": x.N}
	}
	var stages []any
	for _, s := range r.Stages {
		m := map[string]any{
			"name": s.Name, "concurrency": s.Stage.Concurrency, "plannedSeconds": s.Stage.Duration.Seconds(),
			"elapsedSeconds": s.Elapsed.Seconds(), "requests": s.Requests, "ok": s.OK, "errors": s.Errors,
			"outputTokens": s.OutputTokens, "requestsPerSecond": s.RequestRate, "outputTokensPerSecond": s.TokenRate,
			"ttftSeconds": q(s.TTFT), "itlSeconds": q(s.ITL), "e2eSeconds": q(s.E2E), "byEndpoint": s.ByEndpoint,
		}
		if s.Stage.Rate > 0 {
			m["rate"] = s.Stage.Rate
		}
		if s.Cancelled > 0 {
			m["cancelled"] = s.Cancelled
		}
		if len(s.ErrorSamples) > 0 {
			m["errorSamples"] = s.ErrorSamples
		}
		stages = append(stages, m)
	}
	return map[string]any{"target": r.Target, "model": r.Model, "elapsedSeconds": r.Elapsed.Seconds(),
		"interrupted": r.Interrupted, "stages": stages}
}

// WriteTable writes one row per stage, then the error samples and the
// spread over endpoints.
func (r *Report) WriteTable(w io.Writer) error {
	if r.Interrupted {
		fmt.Fprintf(w, "interrupted after %s: partial results\n", r.Elapsed.Round(time.Second))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tTIME\tREQUESTS\tERRORS\tREQ/S\tTOK/S\tTTFT p50/p90/p99\tITL p50/p90/p99\tE2E p50/p90/p99")
	for _, s := range r.Stages {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%.1f\t%.0f\t%s\t%s\t%s\n", s.Name, s.Elapsed.Round(time.Second), s.Requests,
			errorsCell(s.Errors), s.RequestRate, s.TokenRate, triple(s.TTFT), triple(s.ITL), triple(s.E2E))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range r.Stages {
		for _, e := range s.ErrorSamples {
			fmt.Fprintf(w, "%s error: %s\n", s.Name, e)
		}
	}
	spread := map[string]int{}
	for _, s := range r.Stages {
		for k, v := range s.ByEndpoint {
			spread[k] += v
		}
	}
	if len(spread) > 1 {
		names := slices.Sorted(maps.Keys(spread))
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = fmt.Sprintf("%s %d", n, spread[n])
		}
		fmt.Fprintf(w, "served by: %s\n", strings.Join(parts, ", "))
	}
	return nil
}

func errorsCell(errs map[string]int) string {
	if len(errs) == 0 {
		return "0"
	}
	kinds := slices.Sorted(maps.Keys(errs))
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%d %s", errs[k], k)
	}
	return strings.Join(parts, ", ")
}

func triple(q Quantiles) string {
	if q.N == 0 {
		return "-"
	}
	return Short(q.P50) + " / " + Short(q.P90) + " / " + Short(q.P99)
}

// Short prints a latency with three significant digits: 812µs, 45.2ms, 1.25s.
func Short(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < 10*time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}
