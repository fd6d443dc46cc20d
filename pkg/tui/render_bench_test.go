package tui

import (
	"testing"
	"time"
)

// BenchmarkRender120x40 is the cost of one frame of a busy screen: a new
// snapshot with 15 minutes of history (900 points) each time.
func BenchmarkRender120x40(b *testing.B) {
	m := newModel(120, 40)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		send(m, scaleUp(850+i%50))
		_ = m.Render()
		i++
	}
}

// BenchmarkRenderIdle120x40 is the cost of the once-a-second frame of a
// quiet screen: only the clock moved, the history did not.
func BenchmarkRenderIdle120x40(b *testing.B) {
	m := newModel(120, 40)
	s := scaleUp(900)
	b.ReportAllocs()
	for b.Loop() {
		s.Time = s.Time.Add(time.Second)
		send(m, s)
		_ = m.Render()
	}
}
