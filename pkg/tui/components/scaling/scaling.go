// Package scaling is the panel that shows the HPA's current and desired
// replicas, a chart of both over time, its conditions with their reasons and
// the last rescale.
package scaling

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/components"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/components/chart"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/theme"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/watch"
)

// Model is the scaling panel.
type Model struct {
	components.Static
	styles theme.Styles
	charts chart.Cache
}

// New returns an empty scaling panel.
func New(s theme.Styles) *Model { return &Model{styles: s} }

// Title implements components.Component.
func (m *Model) Title() string { return "Scaling" }

// View implements components.Component.
func (m *Model) View() string {
	st := m.styles
	s := m.Snap
	if s == nil || s.HPA == nil {
		msg := "waiting for the HPA…"
		if s != nil && s.HPAError != "" {
			msg = "! " + s.HPAError
		}
		return st.Warn.Render(msg)
	}
	h := s.HPA
	summary := fmt.Sprintf("%s %s  %s %s", st.Dim.Render("current"), st.Bold.Render(fmt.Sprint(h.CurrentReplicas)),
		st.Dim.Render("desired"), st.Desired.Bold(true).Render(fmt.Sprint(h.DesiredReplicas)))
	if d := s.Deployment; d != nil {
		summary += st.Dim.Render(fmt.Sprintf("  ready %d/%d", d.ReadyReplicas, d.Replicas))
	}
	last := st.Dim.Render("last rescale ") + "never"
	if !h.LastScaleTime.IsZero() {
		last = st.Dim.Render("last rescale ") + components.Age(s.Time.Sub(h.LastScaleTime)) + " ago"
		if h.LastScaleReason != "" {
			last += ": " + h.LastScaleReason
		}
	}
	conds := m.conditions(h.Conditions, false)
	chartH := m.H - 2 - len(conds)
	if chartH < 3 {
		conds = m.conditions(h.Conditions, true)
		chartH = m.H - 2 - len(conds)
	}
	lines := []string{summary}
	if c := m.chart(chartH); c != "" {
		lines = append(lines, c)
	}
	lines = append(lines, conds...)
	lines = append(lines, last)
	return strings.Join(lines, "\n")
}

// conditions renders one line per condition, or all on one line when
// compact: there the failing and notable ones come first with their reasons,
// the normal ones only by name, so a narrow panel cuts the least news.
func (m *Model) conditions(cs []watch.Condition, compact bool) []string {
	var out []string
	if !compact {
		for _, c := range cs {
			mark, reason := m.marked(c)
			out = append(out, fmt.Sprintf("%s %-14s %s", mark, c.Type, reason))
		}
		return out
	}
	if len(cs) == 0 {
		return nil
	}
	sorted := slices.Clone(cs)
	slices.SortStableFunc(sorted, func(a, b watch.Condition) int { return rank(a) - rank(b) })
	for _, c := range sorted {
		mark, reason := m.marked(c)
		if c.Verdict() == watch.Normal {
			out = append(out, mark+c.Type)
		} else {
			out = append(out, mark+c.Type+"("+reason+")")
		}
	}
	return []string{strings.Join(out, " ")}
}

// marked is a condition's mark and styled reason by what it means, not by
// its True/False: ScalingLimited=False and ScaledToZero=False are normal.
func (m *Model) marked(c watch.Condition) (mark, reason string) {
	st := m.styles
	switch c.Verdict() {
	case watch.Notable:
		return st.Accent.Render("•"), st.Accent.Render(c.Reason)
	case watch.Failing:
		return st.Err.Render("✗"), st.Err.Render(c.Reason)
	case watch.Unknown:
		return st.Dim.Render("?"), st.Dim.Render(c.Reason)
	}
	return st.OK.Render("✓"), st.Dim.Render(c.Reason)
}

// rank orders conditions for the compact line: failing, notable, unknown,
// normal.
func rank(c watch.Condition) int {
	switch c.Verdict() {
	case watch.Failing:
		return 0
	case watch.Notable:
		return 1
	case watch.Unknown:
		return 2
	}
	return 3
}

func (m *Model) chart(h int) string {
	pts := m.Snap.History.Replicas
	if len(pts) == 0 {
		return ""
	}
	times := make([]time.Time, len(pts))
	cur, des := make([]float64, len(pts)), make([]float64, len(pts))
	for i, p := range pts {
		times[i], cur[i], des[i] = p.Time, float64(p.Current), float64(p.Desired)
	}
	st := m.styles
	return m.charts.Render(m.W, h, st.Dim,
		chart.Series{Name: "desired", Style: st.Desired, Times: times, Values: des},
		chart.Series{Name: "current", Style: st.Series, Times: times, Values: cur})
}
