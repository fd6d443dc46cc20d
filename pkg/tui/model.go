// Package tui is the `watch` screen: a bubbletea model over watch.Snapshot
// values. It makes no client-go calls; whoever runs it sends SnapshotMsg.
// Only this root model returns a tea.View; its Update routes keys and
// snapshots to the panels under components/.
package tui

import (
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/components"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/components/events"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/components/header"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/components/logs"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/components/metrics"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/components/pods"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/components/scaling"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/theme"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/watch"
)

// SnapshotMsg carries a new snapshot into the model.
type SnapshotMsg struct{ Snapshot watch.Snapshot }

// DoctorMsg carries doctor's latest verdict: a one-line summary for the
// header and the full check table for the d key.
type DoctorMsg struct {
	Verdict  string
	Table    string
	Failures int
}

// Panel indexes, in focus order.
const (
	PanelScaling = iota
	PanelMetrics
	PanelPods
	PanelEvents
	PanelLogs
	numPanels
)

// Model is the root of the screen.
type Model struct {
	styles theme.Styles
	keys   keyMap
	help   help.Model
	header *header.Model
	panels [numPanels]components.Component

	w, h     int
	focus    int
	paused   bool
	showHelp bool
	// showDoctor shows doctor's table instead of the panels.
	showDoctor bool
	doctor     *DoctorMsg
	snap       *watch.Snapshot
	pending    *watch.Snapshot
	// AltScreen makes the view take over the whole terminal (off in tests).
	AltScreen bool
}

// New returns the root model.
func New() *Model {
	s := theme.Default()
	m := &Model{styles: s, keys: newKeyMap(), help: newHelp(s), header: header.New(s), w: 80, h: 24}
	m.panels = [numPanels]components.Component{
		scaling.New(s), metrics.New(s), pods.New(s), events.New(s), logs.New(s),
	}
	m.setFocus(0)
	m.resize()
	return m
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Focused returns the index of the focused panel.
func (m *Model) Focused() int { return m.focus }

// Paused reports whether new snapshots are held back.
func (m *Model) Paused() bool { return m.paused }

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		m.resize()
		return m, nil
	case SnapshotMsg:
		s := msg.Snapshot
		if m.paused {
			m.pending = &s
			return m, nil
		}
		m.apply(&s)
		return m, nil
	case DoctorMsg:
		m.doctor = &msg
		m.header.Doctor, m.header.DoctorFailed = msg.Verdict, msg.Failures > 0
		return m, nil
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	return m, m.panels[m.focus].Update(msg)
}

func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	if c, ok := m.panels[m.focus].(components.InputCapturer); ok && c.Capturing() && k.String() != "ctrl+c" {
		return m.panels[m.focus].Update(k)
	}
	switch {
	case key.Matches(k, m.keys.Quit):
		return tea.Quit
	case key.Matches(k, m.keys.Help):
		m.showHelp = !m.showHelp
	case m.showHelp && k.String() == "esc":
		m.showHelp = false
	case key.Matches(k, m.keys.Doctor) && m.doctor != nil:
		m.showDoctor = !m.showDoctor
	case m.showDoctor && k.String() == "esc":
		m.showDoctor = false
	case key.Matches(k, m.keys.Next):
		m.setFocus((m.focus + 1) % numPanels)
	case key.Matches(k, m.keys.Prev):
		m.setFocus((m.focus + numPanels - 1) % numPanels)
	case key.Matches(k, m.keys.Pause):
		m.paused = !m.paused
		m.header.Paused = m.paused
		if !m.paused && m.pending != nil {
			m.apply(m.pending)
			m.pending = nil
		}
	case key.Matches(k, m.keys.Filter):
		m.setFocus(PanelLogs)
		return m.panels[PanelLogs].Update(k)
	default:
		return m.panels[m.focus].Update(k)
	}
	return nil
}

func (m *Model) setFocus(i int) {
	m.focus = i
	for j, p := range m.panels {
		if f, ok := p.(interface{ Focus(bool) }); ok {
			f.Focus(j == i)
		}
	}
}

func (m *Model) apply(s *watch.Snapshot) {
	m.snap = s
	m.header.SetSnapshot(s)
	for _, p := range m.panels {
		p.SetSnapshot(s)
	}
}

// rect is a panel's outer size; the content is 2 smaller each way.
type rect struct{ w, h int }

// layout splits the body (the screen less header and footer) into three
// rows: scaling | metrics, pods, events | logs.
func (m *Model) layout() [numPanels]rect {
	body := max(m.h-m.header.Height()-1, 0)
	r1 := max(body*45/100, 8)
	r3 := max(body*30/100, 5)
	r2 := max(body-r1-r3, 0)
	left := m.w / 2
	evW := m.w * 45 / 100
	return [numPanels]rect{
		PanelScaling: {left, r1}, PanelMetrics: {m.w - left, r1},
		PanelPods:   {m.w, r2},
		PanelEvents: {evW, r3}, PanelLogs: {m.w - evW, r3},
	}
}

func (m *Model) resize() {
	m.header.SetWidth(m.w)
	m.help.SetWidth(m.w)
	for i, r := range m.layout() {
		m.panels[i].SetSize(max(r.w-2, 0), max(r.h-2, 0))
	}
}

// View implements tea.Model.
func (m *Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = m.AltScreen
	v.WindowTitle = "kubectl infer-hpa watch"
	return v
}

// Render returns the screen as a string of exactly the window's size.
func (m *Model) Render() string {
	var rows []string
	rows = append(rows, m.header.View())
	if m.showHelp {
		body := max(m.h-m.header.Height()-1, 0)
		rows = append(rows, m.styles.Box("Help — press ? or esc to close", m.help.FullHelpView(m.keys.FullHelp()), m.w, body, true))
	} else if m.showDoctor && m.doctor != nil {
		body := max(m.h-m.header.Height()-1, 0)
		rows = append(rows, m.styles.Box("doctor — press d or esc to close", m.doctor.Table, m.w, body, true))
	} else {
		r := m.layout()
		box := func(i int) string {
			return m.styles.Box(m.panels[i].Title(), m.panels[i].View(), r[i].w, r[i].h, i == m.focus)
		}
		rows = append(rows,
			lipgloss.JoinHorizontal(lipgloss.Top, box(PanelScaling), box(PanelMetrics)),
			box(PanelPods),
			lipgloss.JoinHorizontal(lipgloss.Top, box(PanelEvents), box(PanelLogs)))
	}
	rows = append(rows, m.help.ShortHelpView(m.keys.ShortHelp()))
	return theme.Fit(strings.Join(rows, "\n"), m.w, m.h)
}
