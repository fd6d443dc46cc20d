package load

import (
	"math"
	"slices"
	"time"
)

// Samples holds durations and answers exact percentiles. It is not safe
// for concurrent use; the recorder guards it.
type Samples struct {
	v      []time.Duration
	sorted bool
}

// Add records one duration.
func (s *Samples) Add(d time.Duration) {
	s.v = append(s.v, d)
	s.sorted = false
}

// Len is the number of samples.
func (s *Samples) Len() int { return len(s.v) }

// Merge adds every sample of o.
func (s *Samples) Merge(o *Samples) {
	s.v = append(s.v, o.v...)
	s.sorted = false
}

// Percentile is the p-th percentile (0 ≤ p ≤ 100) by linear interpolation
// between the closest ranks (numpy's default, "type 7"); 0 with no samples.
func (s *Samples) Percentile(p float64) time.Duration {
	if len(s.v) == 0 {
		return 0
	}
	if !s.sorted {
		slices.Sort(s.v)
		s.sorted = true
	}
	p = math.Min(math.Max(p, 0), 100)
	rank := p / 100 * float64(len(s.v)-1)
	lo := int(math.Floor(rank))
	hi := min(lo+1, len(s.v)-1)
	frac := rank - float64(lo)
	return s.v[lo] + time.Duration(math.Round(frac*float64(s.v[hi]-s.v[lo])))
}

// Mean is the arithmetic mean; 0 with no samples.
func (s *Samples) Mean() time.Duration {
	if len(s.v) == 0 {
		return 0
	}
	var sum float64
	for _, d := range s.v {
		sum += float64(d)
	}
	return time.Duration(sum / float64(len(s.v)))
}

// Quantiles are the percentiles a report shows.
type Quantiles struct {
	P50  time.Duration `json:"p50"`
	P90  time.Duration `json:"p90"`
	P99  time.Duration `json:"p99"`
	Mean time.Duration `json:"mean"`
	N    int           `json:"count"`
}

// Quantiles summarises the samples.
func (s *Samples) Quantiles() Quantiles {
	return Quantiles{P50: s.Percentile(50), P90: s.Percentile(90), P99: s.Percentile(99), Mean: s.Mean(), N: len(s.v)}
}
