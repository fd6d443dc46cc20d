package tui

import "testing"

// BenchmarkRender120x40 is the cost of one frame of a busy screen: a
// snapshot with 15 minutes of history (900 points) through Update and Render.
func BenchmarkRender120x40(b *testing.B) {
	m := newModel(120, 40)
	s := scaleUp(900)
	b.ReportAllocs()
	for b.Loop() {
		send(m, s)
		_ = m.Render()
	}
}
