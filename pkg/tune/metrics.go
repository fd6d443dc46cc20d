package tune

import "github.com/infer-hpa/kubectl-infer-hpa/pkg/promtext"

// vLLM's series tune reads from a pod's /metrics.
const (
	MetricRunning     = "vllm:num_requests_running"
	MetricWaiting     = "vllm:num_requests_waiting"
	MetricKVCache     = "vllm:kv_cache_usage_perc"
	MetricKVCacheOld  = "vllm:gpu_cache_usage_perc" // before vLLM 0.10
	MetricPreemptions = "vllm:num_preemptions_total"
)

// ParseMetrics reads Prometheus text exposition (pkg/promtext) and
// returns, per metric name, the sum over its series (one engine per pod:
// one series each). A malformed body is an error.
func ParseMetrics(body []byte) (map[string]float64, error) {
	return promtext.Sums(body)
}

// Gauges are the pod's metrics averaged over a stage.
type Gauges struct {
	Running, Waiting, KVCache float64
	// Preemptions during the stage (counter delta).
	Preemptions float64
	// Samples taken; KVCacheMetric is the name found (new or legacy).
	Samples       int
	KVCacheMetric string
}

// gaugeAcc averages samples.
type gaugeAcc struct {
	n                 int
	run, wait, kv     float64
	firstPre, lastPre float64
	havePre           bool
	kvName            string
}

func (a *gaugeAcc) add(m map[string]float64) {
	a.n++
	a.run += m[MetricRunning]
	a.wait += m[MetricWaiting]
	if v, ok := m[MetricKVCache]; ok {
		a.kv += v
		a.kvName = MetricKVCache
	} else if v, ok := m[MetricKVCacheOld]; ok {
		a.kv += v
		a.kvName = MetricKVCacheOld
	}
	if v, ok := m[MetricPreemptions]; ok {
		if !a.havePre {
			a.firstPre, a.havePre = v, true
		}
		a.lastPre = v
	}
}

func (a *gaugeAcc) gauges() Gauges {
	if a.n == 0 {
		return Gauges{}
	}
	n := float64(a.n)
	return Gauges{Running: a.run / n, Waiting: a.wait / n, KVCache: a.kv / n, Preemptions: a.lastPre - a.firstPre,
		Samples: a.n, KVCacheMetric: a.kvName}
}
