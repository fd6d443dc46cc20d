// Package theme holds the styles the watch screen shares. Colours are the
// terminal's own 16 ANSI colours, so the screen follows the user's theme;
// the renderer drops them entirely under NO_COLOR or a colourless terminal,
// which is why every highlight also has a non-colour mark (bold, "!", "✓").
package theme

import (
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// Styles are the named styles of the screen.
type Styles struct {
	Title, Dim, Bold, OK, Warn, Err, Accent lipgloss.Style
	Series, Target, Desired                 lipgloss.Style
	Border, FocusBorder                     lipgloss.Style
}

// Default returns the screen's styles.
func Default() Styles {
	return Styles{
		Title:       lipgloss.NewStyle().Bold(true),
		Dim:         lipgloss.NewStyle().Foreground(lipgloss.BrightBlack),
		Bold:        lipgloss.NewStyle().Bold(true),
		OK:          lipgloss.NewStyle().Foreground(lipgloss.Green),
		Warn:        lipgloss.NewStyle().Foreground(lipgloss.Yellow),
		Err:         lipgloss.NewStyle().Foreground(lipgloss.Red).Bold(true),
		Accent:      lipgloss.NewStyle().Foreground(lipgloss.Cyan),
		Series:      lipgloss.NewStyle().Foreground(lipgloss.Cyan),
		Target:      lipgloss.NewStyle().Foreground(lipgloss.Red),
		Desired:     lipgloss.NewStyle().Foreground(lipgloss.Yellow),
		Border:      lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(lipgloss.BrightBlack),
		FocusBorder: lipgloss.NewStyle().Border(lipgloss.ThickBorder()).BorderForeground(lipgloss.Cyan),
	}
}

// Box draws content in a w×h bordered box with title set into the top
// border. The content is cut or padded to fit exactly.
func (s Styles) Box(title, content string, w, h int, focused bool) string {
	st := s.Border
	if focused {
		st = s.FocusBorder
	}
	iw, ih := max(w-2, 0), max(h-2, 0)
	body := Fit(content, iw, ih)
	box := st.Render(body)
	lines := strings.Split(box, "\n")
	if title != "" && len(lines) > 0 && iw > 4 {
		b := st.GetBorderStyle()
		edge := lipgloss.NewStyle().Foreground(st.GetBorderTopForeground())
		t := " " + ansi.Truncate(title, iw-3, "…") + " "
		rest := strings.Repeat(b.Top, max(iw-1-ansi.StringWidth(t), 0)) + b.TopRight
		tStyle := s.Dim
		if focused {
			tStyle = s.Title
		}
		lines[0] = edge.Render(b.TopLeft+b.Top) + tStyle.Render(t) + edge.Render(rest)
	}
	return strings.Join(lines, "\n")
}

// Fit cuts or pads s to exactly w columns and h lines.
func Fit(s string, w, h int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	for i, l := range lines {
		l = ansi.Truncate(l, w, "…")
		if pad := w - ansi.StringWidth(l); pad > 0 {
			l += strings.Repeat(" ", pad)
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n")
}
