package tui

import (
	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/theme"
)

// keyMap is every key the screen knows; it also feeds the help views.
type keyMap struct {
	Next, Prev, Scroll, Page, Filter, Pause, Doctor, Help, Quit key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		Next:   key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next panel")),
		Prev:   key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous panel")),
		Scroll: key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "scroll")),
		Page:   key.NewBinding(key.WithKeys("pgup", "pgdown"), key.WithHelp("pgup/pgdn", "page")),
		Filter: key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter log")),
		Pause:  key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause")),
		Doctor: key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "doctor's checks")),
		Help:   key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:   key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// ShortHelp implements help.KeyMap.
func (k keyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Next, k.Scroll, k.Filter, k.Pause, k.Help, k.Quit}
}

// FullHelp implements help.KeyMap.
func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Next, k.Prev, k.Scroll, k.Page}, {k.Filter, k.Pause, k.Doctor, k.Help, k.Quit}}
}

func newHelp(s theme.Styles) help.Model {
	h := help.New()
	h.Styles = help.Styles{
		Ellipsis: s.Dim, ShortKey: s.Bold, ShortDesc: s.Dim, ShortSeparator: s.Dim,
		FullKey: s.Bold, FullDesc: s.Dim, FullSeparator: s.Dim,
	}
	return h
}
