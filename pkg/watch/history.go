package watch

import "time"

// historyRecorder appends samples to bounded series. A sample is taken when a
// value changed or when at least interval passed since the last one, so a
// quiet HPA costs one point per interval and a busy one shows every change.
type historyRecorder struct {
	max      int
	interval time.Duration
	replicas []ReplicaPoint
	metrics  map[string][]MetricPoint
}

func newHistoryRecorder(maxPoints int, interval time.Duration) *historyRecorder {
	return &historyRecorder{max: maxPoints, interval: interval, metrics: map[string][]MetricPoint{}}
}

// record adds the snapshot's values as samples at now.
func (h *historyRecorder) record(now time.Time, hpa *HPAInfo, metrics []MetricInfo) {
	if hpa != nil {
		p := ReplicaPoint{Time: now, Current: hpa.CurrentReplicas, Desired: hpa.DesiredReplicas}
		if n := len(h.replicas); n == 0 || h.replicas[n-1].Current != p.Current ||
			h.replicas[n-1].Desired != p.Desired || now.Sub(h.replicas[n-1].Time) >= h.interval {
			h.replicas = appendBounded(h.replicas, p, h.max)
		}
	}
	for _, m := range metrics {
		if !m.HasCurrent {
			continue
		}
		series := h.metrics[m.Name]
		p := MetricPoint{Time: now, Value: m.Current, Target: m.Target}
		if n := len(series); n == 0 || series[n-1].Value != p.Value ||
			series[n-1].Target != p.Target || now.Sub(series[n-1].Time) >= h.interval {
			h.metrics[m.Name] = appendBounded(series, p, h.max)
		}
	}
}

// snapshot returns copies of the series.
func (h *historyRecorder) snapshot() History {
	out := History{Replicas: append([]ReplicaPoint(nil), h.replicas...), Metrics: make(map[string][]MetricPoint, len(h.metrics))}
	for k, v := range h.metrics {
		out.Metrics[k] = append([]MetricPoint(nil), v...)
	}
	return out
}

func appendBounded[T any](s []T, v T, maxLen int) []T {
	s = append(s, v)
	if len(s) > maxLen {
		// Shift in place so the backing array does not grow without bound.
		n := copy(s, s[len(s)-maxLen:])
		s = s[:n]
	}
	return s
}
