package tui

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/watch"
)

func newModel(w, h int) *Model {
	m := New()
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return m
}

func send(m *Model, s watch.Snapshot) { m.Update(SnapshotMsg{Snapshot: s}) }

func press(m *Model, keys ...string) tea.Cmd {
	var cmd tea.Cmd
	for _, k := range keys {
		var msg tea.KeyPressMsg
		switch k {
		case "tab":
			msg = tea.KeyPressMsg{Code: tea.KeyTab}
		case "shift+tab":
			msg = tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
		case "enter":
			msg = tea.KeyPressMsg{Code: tea.KeyEnter}
		case "esc":
			msg = tea.KeyPressMsg{Code: tea.KeyEscape}
		case "down":
			msg = tea.KeyPressMsg{Code: tea.KeyDown}
		case "up":
			msg = tea.KeyPressMsg{Code: tea.KeyUp}
		default:
			r := []rune(k)[0]
			msg = tea.KeyPressMsg{Code: r, Text: k}
		}
		_, cmd = m.Update(msg)
	}
	return cmd
}

// text is the screen without styling.
func text(m *Model) string { return ansi.Strip(m.Render()) }

// withProfile renders the screen the way the terminal would get it under a
// given colour profile.
func withProfile(m *Model, p colorprofile.Profile) string {
	var b bytes.Buffer
	w := &colorprofile.Writer{Forward: &b, Profile: p}
	_, _ = w.Write([]byte(m.Render()))
	return b.String()
}

func mustContain(t *testing.T, screen string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(screen, w) {
			t.Errorf("screen lacks %q:\n%s", w, screen)
		}
	}
}

func TestScaleUpSequence(t *testing.T) {
	m := newModel(120, 40)
	send(m, scaleUp(5))
	mustContain(t, text(m), "current 1  desired 1", "last rescale never", "0.5 ▼ / 4 avg/pod", "Pods 1/1 ready", "no events yet")

	send(m, scaleUp(30))
	s := text(m)
	mustContain(t, s, "current 1  desired 3", "Pending", "Pods 1/3 ready", "SuccessfulRescale",
		"last rescale 5s ago: New size: 3; reason: pods metric", "5.5 ▲ / 4")

	send(m, scaleUp(60))
	s = text(m)
	mustContain(t, s, "current 3  desired 3  ready 3/3", "Pods 3/3 ready", "3.5 ▼ / 4", "up 1m00s",
		"✓ AbleToScale    SucceededRescale")
	if strings.Contains(s, "Pending") {
		t.Errorf("pods still pending at 60s:\n%s", s)
	}
	// Newest event first.
	if strings.Index(s, "SuccessfulRescale") > strings.Index(s, "ScalingReplicaSet") {
		t.Errorf("events not newest first:\n%s", s)
	}
}

func TestFailingMetric(t *testing.T) {
	m := newModel(120, 40)
	send(m, failingMetric())
	mustContain(t, text(m), "? / 4", "! FailedGetPodsMetric: unable to get metric", "✗ ScalingActive  FailedGetPodsMetric",
		"! FailedGetPodsMetric ×4")
}

func TestAdapter403HighlightedAndFiltered(t *testing.T) {
	m := newModel(120, 40)
	send(m, failingMetric())
	s := text(m)
	mustContain(t, s, "Adapter log (1 error)", "! E1126 18:00:02.000000 1 stackdriver.go:100]", "Error 403: Permission")

	// In colour the 403 line is red; with NO_COLOR (Ascii) there is no
	// colour at all but the "!" mark stays.
	ansiScreen := withProfile(m, colorprofile.ANSI)
	if !strings.Contains(ansiScreen, "\x1b[1;31m! E1126") {
		t.Errorf("403 line is not bold red in the ANSI profile:\n%q", ansiScreen)
	}
	plain := withProfile(m, colorprofile.Ascii)
	if strings.Contains(plain, "[31m") || strings.Contains(plain, "[36m") || strings.Contains(plain, "38;5;") {
		t.Errorf("Ascii profile still has colours:\n%q", plain)
	}
	mustContain(t, ansi.Strip(plain), "! E1126")

	// `/` filters the log from any panel.
	press(m, "/", "4", "0", "3", "enter")
	s = text(m)
	if m.Focused() != PanelLogs {
		t.Errorf("focus = %d, want the log panel", m.Focused())
	}
	mustContain(t, s, "Adapter log (1 error) /403", "Error 403")
	if strings.Contains(s, "main.go:92] serving") {
		t.Errorf("filter kept a non-matching line:\n%s", s)
	}
	press(m, "esc")
	mustContain(t, text(m), "main.go:92] serving")
}

func TestResizeTo80x24(t *testing.T) {
	m := newModel(120, 40)
	send(m, scaleUp(60))
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	lines := strings.Split(m.Render(), "\n")
	if len(lines) != 24 {
		t.Fatalf("%d lines at 80×24", len(lines))
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w != 80 {
			t.Errorf("line %d is %d wide: %q", i, w, ansi.Strip(l))
		}
	}
	mustContain(t, text(m), "Scaling", "Metrics", "Pods 3/3 ready", "Events (2)", "Adapter log", "q quit",
		"current 3  desired 3", "3.5 ▼ / 4")
	// All three pods fit in the table at 80×24.
	for i := 0; i < 3; i++ {
		mustContain(t, text(m), fmt.Sprintf("7d9f8b6c5d-p%d", i))
	}
}

func TestKeys(t *testing.T) {
	m := newModel(100, 30)
	send(m, scaleUp(30))
	press(m, "tab", "tab")
	if m.Focused() != PanelPods {
		t.Errorf("after two tabs focus = %d", m.Focused())
	}
	press(m, "shift+tab", "shift+tab", "shift+tab")
	if m.Focused() != PanelLogs {
		t.Errorf("shift+tab does not wrap: %d", m.Focused())
	}

	press(m, "p")
	mustContain(t, text(m), "PAUSED")
	send(m, scaleUp(60))
	mustContain(t, text(m), "current 1  desired 3") // held back
	press(m, "p")
	mustContain(t, text(m), "current 3  desired 3")

	press(m, "?")
	mustContain(t, text(m), "Help", "previous panel", "filter log")
	press(m, "?")
	if strings.Contains(text(m), "previous panel") {
		t.Error("? does not close help")
	}

	cmd := press(m, "q")
	if cmd == nil {
		t.Fatal("q gives no command")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Errorf("q does not quit")
	}
}

func TestEventsScroll(t *testing.T) {
	m := newModel(80, 24)
	s := scaleUp(60)
	s.Events = nil
	for i := 0; i < 30; i++ {
		s.Events = append(s.Events, watch.EventInfo{UID: fmt.Sprint(i), Time: s.Time.Add(-time.Duration(i) * time.Minute),
			Type: "Normal", Reason: fmt.Sprintf("Reason%02d", i), Object: "HorizontalPodAutoscaler/h", Message: "m"})
	}
	send(m, s)
	press(m, "tab", "tab", "tab")
	if m.Focused() != PanelEvents {
		t.Fatalf("focus = %d", m.Focused())
	}
	mustContain(t, text(m), "Reason00")
	press(m, "down", "down")
	scr := text(m)
	if strings.Contains(scr, "Reason00") || !strings.Contains(scr, "Reason02") {
		t.Errorf("down did not scroll the events:\n%s", scr)
	}
}

// Events and log lines wrap between words: every word of every message is
// whole on the screen (a hyphen or a | may end a line: those split too).
func TestEventsAndLogsWrapAtWords(t *testing.T) {
	for _, size := range [][2]int{{120, 60}, {100, 60}, {80, 70}} {
		m := newModel(size[0], size[1])
		s := failingMetric()
		s.Events = append(s.Events, scaleUp(60).Events...)
		send(m, s)
		scr := text(m)
		var texts []string
		for _, e := range s.Events {
			texts = append(texts, e.Message)
		}
		for _, l := range s.Logs {
			texts = append(texts, l.Text)
		}
		for _, txt := range texts {
			for _, w := range strings.FieldsFunc(txt, func(r rune) bool { return r == ' ' || r == '-' || r == '|' }) {
				if !strings.Contains(scr, w) {
					t.Errorf("%dx%d: %q is cut:\n%s", size[0], size[1], w, scr)
				}
			}
		}
	}
}

// Conditions are marked by what they mean: ScaledToZero=False and
// ScalingLimited=False are normal (✓), a capped count is notable (•), a
// metric the HPA cannot read is a failure (✗).
func TestConditionsByMeaning(t *testing.T) {
	m := newModel(120, 40)
	s := failingMetric()
	s.HPA.Conditions = append(s.HPA.Conditions,
		watch.Condition{Type: "ScaledToZero", Status: "False", Reason: "NotScaledToZero"})
	s.HPA.Conditions[2] = watch.Condition{Type: "ScalingLimited", Status: "True", Reason: "TooManyReplicas"}
	send(m, s)
	mustContain(t, text(m), "✓ AbleToScale    ReadyForNewScale", "✗ ScalingActive  FailedGetPodsMetric",
		"• ScalingLimited TooManyReplicas", "✓ ScaledToZero   NotScaledToZero")
	mustContain(t, withProfile(m, colorprofile.ANSI), "\x1b[32m✓\x1b[m ScaledToZero", "\x1b[1;31m✗\x1b[m ScalingActive",
		"\x1b[36m•\x1b[m ScalingLimited")
}

// The log follows its newest entry from the entry's first line, keeps
// following as lines arrive, and stays put once the user scrolls up.
func TestLogFollowsNewestEntry(t *testing.T) {
	m := newModel(80, 24)
	s := failingMetric()
	send(m, s)
	mustContain(t, text(m), "…6f7-abcde ! E1126 18:00:02.000000 1", "Error 403: Permission")

	s.Logs = append(s.Logs, watch.LogLine{Seq: 3, Pod: s.AdapterPods[0].Name, Text: "I1126 18:00:03.000000 1 main.go:99] newest line"})
	send(m, s)
	mustContain(t, text(m), "main.go:99] newest line")

	press(m, "shift+tab") // the log panel
	press(m, "up", "up", "up")
	s.Logs = append(s.Logs, watch.LogLine{Seq: 4, Pod: s.AdapterPods[0].Name, Text: "I1126 18:00:04.000000 1 main.go:99] after scrolling"})
	send(m, s)
	if strings.Contains(text(m), "after scrolling") {
		t.Errorf("the log jumped to the newest line after the user scrolled up:\n%s", text(m))
	}
}
