package components

import (
	"strings"
	"testing"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

func TestHangingWrapsWordsUnderTheBody(t *testing.T) {
	red := lipgloss.NewStyle().Foreground(lipgloss.Red)
	body := red.Render("! googleapi: Error 403: Permission monitoring.timeSeries.list denied (or the resource may not exist)")
	lines := Hanging("…6f7-abcde ", body, 40)
	want := []string{
		"…6f7-abcde ! googleapi: Error 403:",
		"           Permission",
		"           monitoring.timeSeries.list",
		"           denied (or the resource may",
		"           not exist)",
	}
	if got := strings.Split(ansi.Strip(strings.Join(lines, "\n")), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w > 40 {
			t.Errorf("line %d is %d wide: %q", i, w, l)
		}
		// Every line carries the style, so a border drawn after it is not red.
		if i > 0 && !strings.Contains(l, "\x1b[31m") {
			t.Errorf("line %d lost the style: %q", i, l)
		}
	}
}

func TestHangingBreaksMetricNamesAtTheBar(t *testing.T) {
	got := ansi.Strip(strings.Join(Hanging("   35s ", "reason: pods metric prometheus.googleapis.com|vllm:num_requests_running|gauge above target", 40), "\n"))
	want := "   35s reason: pods metric\n" +
		"       prometheus.googleapis.com|\n" +
		"       vllm:num_requests_running|gauge\n" +
		"       above target"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestHangingNarrowPanelWrapsTheWholeLine(t *testing.T) {
	got := Hanging("pod-name-1 ", "a b c d", 15)
	if want := []string{"pod-name-1 a b", "c d"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}
