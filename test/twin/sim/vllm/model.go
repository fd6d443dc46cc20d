// Package vllm is a simulated vLLM server for the twin: OpenAI-compatible
// endpoints, vLLM's /metrics names, and a stated behaviour model (see Model)
// so that latency, queueing and the knee follow from its parameters.
package vllm

import (
	"fmt"
	"math"
	"time"
)

// Model states how the simulated server behaves. All durations are model
// time; the server runs Speed times faster than that on the wall clock, and
// the latencies it reports in /metrics are model time.
//
// The engine works in steps, like vLLM's continuous batching:
//
//   - At the start of a step, waiting requests are admitted (FIFO) while the
//     batch has fewer than MaxNumSeqs sequences and the KV cache can reserve
//     the request's prompt + max_tokens tokens (KVCacheTokens in all).
//   - A step takes DecodeBase + DecodePerSeq·b + PrefillPerToken·p, where b
//     is the batch size after admission and p the prompt tokens of the
//     requests admitted in this step (their prefill runs in the same step).
//   - Every running request gains one output token per step (an admitted
//     request's first token comes at the end of its admission step); it
//     finishes after max_tokens tokens and frees its KV reservation.
//   - The rest wait in a FIFO queue (vllm:num_requests_waiting).
//
// From that, with c clients each sending its next request as soon as the
// previous ends (prompt P, output N tokens), and B = Knee(P, N):
//
//	L(c) = N·(DecodeBase + DecodePerSeq·min(c,B)) + min(c,B)·P·PrefillPerToken   for c ≤ B
//	L(c) = L(B) · c / B                                                           for c > B
//
// (below B every step carries, on average, c/N admissions of P tokens;
// above B the batch is full, throughput stays B/L(B) and Little's law gives
// the rest). Latency grows gently up to the knee B and linearly with the
// queue beyond it. The formula ignores that a request arriving during a
// step waits for that step to end before it is admitted: with several
// clients, measured latencies run 0–20 % above it (see the tests).
type Model struct {
	// Name is the served model name (--model / --served-model-name).
	Name string
	// MaxNumSeqs is the batch limit (--max-num-seqs).
	MaxNumSeqs int
	// MaxModelLen bounds prompt + max_tokens of one request (--max-model-len).
	MaxModelLen int
	// KVCacheTokens is the KV cache capacity in tokens.
	KVCacheTokens int
	// PrefillPerToken is the prefill time per prompt token.
	PrefillPerToken time.Duration
	// DecodeBase is the time of a decode step with one sequence.
	DecodeBase time.Duration
	// DecodePerSeq is the extra step time per sequence in the batch.
	DecodePerSeq time.Duration
	// DefaultMaxTokens is used when a request gives no max_tokens.
	DefaultMaxTokens int
	// Speed is model seconds per wall-clock second (1: real time; 20: a
	// 2 s request takes 100 ms).
	Speed float64
	// LegacyMetrics also exposes vllm:gpu_cache_usage_perc, as vLLM
	// servers before v0.10 did.
	LegacyMetrics bool
}

// DefaultModel is google/gemma-3-1b-it on one L4 with vLLM's defaults, in
// real time: ≈15 ms per output token alone, ≈40 ms at a full batch of 256.
func DefaultModel() Model {
	return Model{
		Name:             "google/gemma-3-1b-it",
		MaxNumSeqs:       256,
		MaxModelLen:      32768,
		KVCacheTokens:    262144,
		PrefillPerToken:  50 * time.Microsecond,
		DecodeBase:       15 * time.Millisecond,
		DecodePerSeq:     100 * time.Microsecond,
		DefaultMaxTokens: 128,
		Speed:            1,
	}
}

// Validate reports parameters the engine cannot run with.
func (m Model) Validate() error {
	switch {
	case m.Name == "":
		return fmt.Errorf("vllm: model name is empty")
	case m.MaxNumSeqs < 1:
		return fmt.Errorf("vllm: MaxNumSeqs %d must be at least 1", m.MaxNumSeqs)
	case m.KVCacheTokens < 1 || m.MaxModelLen < 1 || m.DefaultMaxTokens < 1:
		return fmt.Errorf("vllm: KVCacheTokens, MaxModelLen and DefaultMaxTokens must be positive")
	case m.DecodeBase <= 0 || m.DecodePerSeq < 0 || m.PrefillPerToken < 0:
		return fmt.Errorf("vllm: DecodeBase must be positive, DecodePerSeq and PrefillPerToken not negative")
	case m.Speed <= 0 || math.IsInf(m.Speed, 0) || math.IsNaN(m.Speed):
		return fmt.Errorf("vllm: Speed %v must be a positive number", m.Speed)
	}
	return nil
}

// Knee is the concurrency at which requests of prompt and output tokens
// start to queue: the batch limit, or fewer when the KV cache cannot hold
// that many such requests. Past it latency climbs linearly with concurrency.
func (m Model) Knee(promptTokens, outputTokens int) int {
	b := m.MaxNumSeqs
	if per := promptTokens + outputTokens; per > 0 {
		b = min(b, m.KVCacheTokens/per)
	}
	return max(b, 1)
}

// StepTime is the duration of a decode step with batch sequences in which
// newPromptTokens prompt tokens are prefilled.
func (m Model) StepTime(batch, newPromptTokens int) time.Duration {
	return m.DecodeBase + time.Duration(batch)*m.DecodePerSeq + time.Duration(newPromptTokens)*m.PrefillPerToken
}

// Latency is the predicted mean end-to-end latency (model time) with
// concurrency closed-loop clients sending requests of promptTokens and
// outputTokens (see the formula on Model).
func (m Model) Latency(concurrency, promptTokens, outputTokens int) time.Duration {
	b := m.Knee(promptTokens, outputTokens)
	c := max(concurrency, 1)
	running := min(c, b)
	l := time.Duration(outputTokens)*(m.DecodeBase+time.Duration(running)*m.DecodePerSeq) +
		time.Duration(running*promptTokens)*m.PrefillPerToken
	if c > b {
		l = time.Duration(float64(l) * float64(c) / float64(b))
	}
	return l
}

// Wall converts a model duration to wall-clock time at the model's speed.
func (m Model) Wall(d time.Duration) time.Duration {
	return time.Duration(float64(d) / m.Speed)
}

// PromptTokens estimates the token count of a text the way the simulator
// counts it: one token per 4 bytes, at least one.
func PromptTokens(text string) int {
	return max(1, (len(text)+3)/4)
}
