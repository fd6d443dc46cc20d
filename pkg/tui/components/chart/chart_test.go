package chart

import (
	"testing"
	"time"

	"charm.land/lipgloss/v2"
)

func TestCacheRedrawsOnlyOnChange(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)
	s := Series{Name: "value", Times: []time.Time{t0, t0.Add(time.Second), t0.Add(2 * time.Second)}, Values: []float64{1, 4, 2}}
	var c Cache
	first := c.Render(40, 8, lipgloss.NewStyle(), s)
	if first == "" || first != Render(40, 8, lipgloss.NewStyle(), s) {
		t.Fatalf("cached chart differs from a fresh one:\n%s", first)
	}
	key := c.key
	if again := c.Render(40, 8, lipgloss.NewStyle(), s); again != first || c.key != key {
		t.Fatal("same data: want the same chart from the cache")
	}
	changed := s
	changed.Values = []float64{1, 4, 9}
	if got, want := c.Render(40, 8, lipgloss.NewStyle(), changed), Render(40, 8, lipgloss.NewStyle(), changed); got != want || got == first {
		t.Fatalf("changed value: want a new chart\n%s", got)
	}
	if got := c.Render(30, 8, lipgloss.NewStyle(), changed); got != Render(30, 8, lipgloss.NewStyle(), changed) {
		t.Fatal("changed width: want a new chart")
	}
}
