// Package logs is the adapter log tail: the newest lines of the
// custom-metrics adapter pods, errors (403 permission denied, 404 metric not
// found, OOM restarts) highlighted, `/` to filter, scroll back with the arrows.
package logs

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/textinput"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/components"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/theme"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/watch"
)

// Model is the log tail panel.
type Model struct {
	styles  theme.Styles
	snap    *watch.Snapshot
	vp      viewport.Model
	input   textinput.Model
	editing bool
	filter  string
	w, h    int
	shown   int
	// tail is the offset render last scrolled to while following.
	tail int
}

// New returns an empty log panel.
func New(s theme.Styles) *Model {
	in := textinput.New()
	in.Prompt = "/"
	in.Placeholder = "filter (enter to apply, esc to clear)"
	// Adapter errors are long and the part that matters is often at the
	// end: render wraps each line under its text, not under the pod name.
	return &Model{styles: s, vp: viewport.New(), input: in}
}

// Title implements components.Component.
func (m *Model) Title() string {
	t := "Adapter log"
	if m.snap != nil {
		errs := 0
		for _, l := range m.snap.Logs {
			if l.Error {
				errs++
			}
		}
		switch {
		case errs == 1:
			t += " (1 error)"
		case errs > 1:
			t += fmt.Sprintf(" (%d errors)", errs)
		}
	}
	if m.filter != "" {
		t += " /" + m.filter
	}
	return t
}

// Capturing implements components.InputCapturer: while the filter is being
// typed every key goes to it.
func (m *Model) Capturing() bool { return m.editing }

// SetSnapshot implements components.Component.
func (m *Model) SetSnapshot(s *watch.Snapshot) {
	m.snap = s
	m.render()
}

// SetSize implements components.Component.
func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.input.SetWidth(max(w-2, 1))
	m.layout()
	m.render()
}

func (m *Model) layout() {
	h := m.h
	if m.editing {
		h--
	}
	m.vp.SetWidth(m.w)
	m.vp.SetHeight(max(h, 0))
}

// render refills the viewport, following the newest line unless the user
// scrolled up. Following shows the bottom, or the newest entry from its
// first line when it is taller than the panel (a long 403 keeps its pod and
// its "!").
func (m *Model) render() {
	if m.snap == nil {
		return
	}
	follow := m.shown == 0 || m.vp.AtBottom() || m.vp.YOffset() == m.tail
	st := m.styles
	var lines []string
	if m.snap.NoAdapter != "" { // the native path: no adapter log to show, and why
		m.shown = 1
		m.vp.SetContentLines([]string{st.Dim.Render(m.snap.NoAdapter)})
		return
	}
	for _, msg := range []string{m.snap.AdapterError, m.snap.LogsError} {
		if msg != "" {
			lines = append(lines, components.Hanging("", st.Warn.Render("! "+msg), m.w)...)
		}
	}
	if len(m.snap.AdapterPods) == 0 && m.snap.AdapterError == "" {
		lines = append(lines, components.Hanging("", st.Dim.Render("no adapter pods found (see --adapter-namespace / --adapter-selector)"), m.w)...)
	}
	f := strings.ToLower(m.filter)
	newest := len(lines)
	for _, l := range m.snap.Logs {
		if f != "" && !strings.Contains(strings.ToLower(l.Text), f) && !strings.Contains(strings.ToLower(l.Pod), f) {
			continue
		}
		pod, text := st.Dim.Render(components.ShortPod(l.Pod, 10))+" ", l.Text
		if l.Error {
			text = st.Err.Render("! " + l.Text)
		}
		newest = len(lines)
		lines = append(lines, components.Hanging(pod, text, m.w)...)
	}
	m.shown = len(lines)
	m.vp.SetContentLines(lines)
	if follow {
		m.tail = min(max(len(lines)-m.vp.Height(), 0), newest)
		m.vp.SetYOffset(m.tail)
	}
}

// Update implements components.Component.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case m.editing && k.String() == "enter":
			m.editing, m.filter = false, m.input.Value()
			m.input.Blur()
			m.layout()
			m.render()
			return nil
		case m.editing && k.String() == "esc":
			m.editing, m.filter = false, ""
			m.input.SetValue("")
			m.input.Blur()
			m.layout()
			m.render()
			return nil
		case m.editing:
			var cmd tea.Cmd
			m.input, cmd = m.input.Update(msg)
			return cmd
		case k.String() == "/":
			m.editing = true
			m.input.SetValue(m.filter)
			m.layout()
			return m.input.Focus()
		case k.String() == "esc" && m.filter != "":
			m.filter = ""
			m.render()
			return nil
		}
	}
	var cmd tea.Cmd
	m.vp, cmd = m.vp.Update(msg)
	return cmd
}

// View implements components.Component.
func (m *Model) View() string {
	if m.editing {
		return m.vp.View() + "\n" + m.input.View()
	}
	return m.vp.View()
}
