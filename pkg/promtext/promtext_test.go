package promtext

import (
	"strings"
	"testing"
)

// What a vLLM v1 server serves (abridged), prometheus_client style: counters
// with _total and their _created gauges, a histogram, two engines.
const vllm = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="google/gemma-3-1b-it"} 7.0
vllm:num_requests_running{engine="1",model_name="google/gemma-3-1b-it"} 1.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="google/gemma-3-1b-it"} 2.5
# HELP vllm:num_preemptions_total Cumulative number of preemption from the engine.
# TYPE vllm:num_preemptions_total counter
vllm:num_preemptions_total{engine="0",model_name="m",reason="a b}c"} 3.0
vllm:num_preemptions_total{engine="1",model_name="m"} 1.0 1700000000000
# HELP vllm:num_preemptions_created Cumulative number of preemption from the engine.
# TYPE vllm:num_preemptions_created gauge
vllm:num_preemptions_created{engine="0",model_name="m"} 1.7e+09
# HELP vllm:e2e_request_latency_seconds Histogram of e2e request latency in seconds.
# TYPE vllm:e2e_request_latency_seconds histogram
vllm:e2e_request_latency_seconds_bucket{engine="0",le="0.3",model_name="m"} 1.0
vllm:e2e_request_latency_seconds_bucket{engine="0",le="+Inf",model_name="m"} 4.0
vllm:e2e_request_latency_seconds_count{engine="0",model_name="m"} 4.0
vllm:e2e_request_latency_seconds_sum{engine="0",model_name="m"} 2.5
# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage.
# TYPE vllm:gpu_cache_usage_perc gauge
# HELP vllm:declared_only Never sampled.
# TYPE vllm:declared_only gauge
untyped_thing 5
`

func TestSums(t *testing.T) {
	m, err := Sums([]byte(vllm))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"vllm:num_requests_running": 8, "vllm:num_requests_waiting": 2.5, "vllm:num_preemptions_total": 4,
		"vllm:num_preemptions_created":           1.7e9,
		"vllm:e2e_request_latency_seconds_sum":   2.5,
		"vllm:e2e_request_latency_seconds_count": 4, "untyped_thing": 5,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if len(m) != len(want) {
		t.Errorf("Sums = %v, want only %v", m, want)
	}
}

func TestNames(t *testing.T) {
	n, err := Names([]byte(vllm))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"vllm:num_requests_running", "vllm:e2e_request_latency_seconds", "untyped_thing"} {
		if !n[k] {
			t.Errorf("%s missing from %v", k, n)
		}
	}
	for _, k := range []string{"vllm:declared_only", "vllm:gpu_cache_usage_perc", "vllm:e2e_request_latency_seconds_bucket"} {
		if n[k] {
			t.Errorf("%s is not a served family", k)
		}
	}
}

func TestMalformed(t *testing.T) {
	body := "vllm:num_requests_running 3\n<html>not metrics</html>\nvllm:num_requests_waiting 1\n"
	m, err := Sums([]byte(body))
	if err == nil || !strings.Contains(err.Error(), "line 2") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("want a one-line error naming line 2, got %v", err)
	}
	if m["vllm:num_requests_running"] != 3 || len(m) != 1 {
		t.Errorf("the families before the bad line: %v", m)
	}
	if _, err := Names([]byte("# TYPE x gauge\n# TYPE x counter\nx 1\n")); err == nil {
		t.Error("a second TYPE line for one family is an error")
	}
	if n, err := Names(nil); err != nil || len(n) != 0 {
		t.Errorf("empty body: %v, %v", n, err)
	}
}
