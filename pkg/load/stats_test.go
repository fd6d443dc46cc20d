package load

import (
	"testing"
	"time"
)

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

// TestPercentiles checks the interpolation on fixed data against values
// computed by hand (numpy.percentile's default method gives the same).
func TestPercentiles(t *testing.T) {
	var s Samples
	for _, v := range []float64{40, 15, 50, 35, 20} {
		s.Add(ms(v))
	}
	for p, want := range map[float64]float64{0: 15, 25: 20, 40: 29, 50: 35, 90: 46, 99: 49.6, 100: 50} {
		if got := s.Percentile(p); got != ms(want) {
			t.Errorf("p%v = %v, want %v", p, got, ms(want))
		}
	}
	if s.Mean() != ms(32) {
		t.Errorf("mean = %v", s.Mean())
	}
	var one Samples
	one.Add(ms(7))
	if one.Percentile(99) != ms(7) || one.Percentile(0) != ms(7) {
		t.Errorf("single sample: p99 %v", one.Percentile(99))
	}
	var none Samples
	if none.Percentile(50) != 0 || none.Mean() != 0 {
		t.Error("empty samples should give 0")
	}
	// 1..100: p90 = 90.1 by interpolation.
	var h Samples
	for i := 100; i >= 1; i-- {
		h.Add(ms(float64(i)))
	}
	if q := h.Quantiles(); q.P50 != ms(50.5) || q.P90 != ms(90.1) || q.P99 != ms(99.01) || q.N != 100 {
		t.Errorf("1..100: %+v", q)
	}
	var m Samples
	m.Merge(&s)
	m.Merge(&one)
	if m.Len() != 6 || m.Percentile(0) != ms(7) {
		t.Errorf("merge: len %d p0 %v", m.Len(), m.Percentile(0))
	}
}
