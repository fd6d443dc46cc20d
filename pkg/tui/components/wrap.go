package components

import (
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// minBody is the narrowest body column worth a hanging indent; a narrower
// panel wraps the whole line at its width instead.
const minBody = 12

// Hanging lays out one entry as lines of at most w columns: prefix (a fixed
// column such as an age or a pod name), then body wrapped at word boundaries
// (lipgloss.Wrap: a word longer than the column is cut, styles carry over to
// the next line), its continuation lines indented under the body's start.
func Hanging(prefix, body string, w int) []string {
	if w < 1 {
		return []string{prefix + body}
	}
	indent := ansi.StringWidth(prefix)
	if w-indent < minBody {
		return strings.Split(lipgloss.Wrap(prefix+body, w, breakpoints), "\n")
	}
	lines := strings.Split(lipgloss.Wrap(body, w-indent, breakpoints), "\n")
	pad := strings.Repeat(" ", indent)
	for i := range lines {
		if i == 0 {
			lines[i] = prefix + lines[i]
		} else {
			lines[i] = pad + lines[i]
		}
	}
	return lines
}

// breakpoints are where a line may also break besides spaces and hyphens:
// the | of an adapter metric name
// (prometheus.googleapis.com|vllm:num_requests_running|gauge).
const breakpoints = "|"
