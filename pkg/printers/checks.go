package printers

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// CheckLine prints one verdict the way setup's preflight and doctor do:
//
//	[ok  ] name: detail
//	[FAIL] name: detail
//	       fix: what to do
//
// mark is "ok", "warn", "FAIL" or "skip"; with color the mark alone is
// coloured (the words still carry the meaning without it).
func CheckLine(w io.Writer, mark, name, detail, fix string, color bool) {
	m := fmt.Sprintf("%-4s", mark)
	if color {
		if code := markColors[mark]; code != "" {
			m = "\033[" + code + "m" + m + "\033[0m"
		}
	}
	fmt.Fprintf(w, "[%s] %s: %s\n", m, name, detail)
	if fix != "" {
		fmt.Fprintf(w, "       fix: %s\n", fix)
	}
}

// markColors are ANSI SGR codes: green, yellow, bold red, dim.
var markColors = map[string]string{"ok": "32", "warn": "33", "FAIL": "1;31", "skip": "2"}

// ColorEnabled says whether w should get colour: a terminal, TERM not
// dumb, and NO_COLOR unset (https://no-color.org).
func ColorEnabled(w io.Writer) bool {
	if _, set := os.LookupEnv("NO_COLOR"); set || os.Getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
