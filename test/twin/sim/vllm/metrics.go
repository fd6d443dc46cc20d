package vllm

import (
	"github.com/prometheus/client_golang/prometheus"
)

// vLLM's histogram buckets (vllm/v1/metrics/loggers.py).
var (
	e2eBuckets  = []float64{0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}
	ttftBuckets = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}
)

// metrics are the series a vLLM v1 server exposes (a subset), with its
// names, types, help texts and labels (model_name, engine).
type metrics struct {
	reg              *prometheus.Registry
	promptTokens     prometheus.Counter
	generationTokens prometheus.Counter
	success          prometheus.Counter
	e2e, ttft        prometheus.Observer
}

func newMetrics(m Model, stats func() Stats) *metrics {
	labels := prometheus.Labels{"model_name": m.Name, "engine": "0"}
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, v func(Stats) float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return v(stats()) }))
	}
	gauge("vllm:num_requests_running", "Number of requests in model execution batches.",
		func(s Stats) float64 { return float64(s.Running) })
	gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.",
		func(s Stats) float64 { return float64(s.Waiting) })
	gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.",
		func(s Stats) float64 { return s.KVCacheUsage })
	if m.LegacyMetrics {
		gauge("vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage.",
			func(s Stats) float64 { return s.KVCacheUsage })
	}
	counter := func(name, help string, extra prometheus.Labels) prometheus.Counter {
		l := prometheus.Labels{}
		for k, v := range labels {
			l[k] = v
		}
		for k, v := range extra {
			l[k] = v
		}
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: l})
		reg.MustRegister(c)
		return c
	}
	histogram := func(name, help string, buckets []float64) prometheus.Observer {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets, ConstLabels: labels})
		reg.MustRegister(h)
		return h
	}
	return &metrics{
		reg:              reg,
		promptTokens:     counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.", nil),
		generationTokens: counter("vllm:generation_tokens_total", "Number of generation tokens processed.", nil),
		success: counter("vllm:request_success_total", "Count of successfully processed requests.",
			prometheus.Labels{"finished_reason": "length"}),
		e2e:  histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", e2eBuckets),
		ttft: histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", ttftBuckets),
	}
}
