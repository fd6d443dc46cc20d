package doctor

import (
	"fmt"
	"io"
	"strings"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/printers"
)

// Print writes the table: one line per check in data-flow order, the fix
// under each failure and warning, the evidence indented below, and the
// verdict last.
func (r *Report) Print(w io.Writer, color bool) {
	for _, c := range r.Checks {
		fix := c.Fix
		if c.Status == OK || c.Status == Skip {
			fix = ""
		}
		printers.CheckLine(w, string(c.Status), c.ID, c.Message, fix, color)
		if c.Status == Fail || c.Status == Warn {
			for _, e := range c.Evidence {
				fmt.Fprintf(w, "       | %s\n", strings.ReplaceAll(e, "\n", " "))
			}
		}
	}
	fmt.Fprintln(w, r.Verdict())
}
