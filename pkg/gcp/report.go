package gcp

import (
	"fmt"
	"io"
	"strings"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
)

// Action is what a step did.
type Action string

// Actions of a Change.
const (
	ActionCreated   Action = "created"
	ActionGranted   Action = "granted"
	ActionRevoked   Action = "revoked"
	ActionDeleted   Action = "deleted"
	ActionUnchanged Action = "unchanged"
	// ActionKept: a service account cleanup left in place because this
	// tool did not create it.
	ActionKept Action = "kept"
)

// Change is one step of Ensure or Remove, done or found already done.
type Change struct {
	Action Action
	// Resource is the IAM resource: "projects/my-project" or
	// "projects/my-project/serviceAccounts/EMAIL".
	Resource string
	// Role and Member are set for policy changes.
	Role   string
	Member string
	// Note explains, e.g. why a service account was kept.
	Note string
}

// String renders a change kubectl-style, e.g.
// "iampolicy/projects/p roles/monitoring.viewer serviceAccount:x granted".
func (c Change) String() string {
	var s string
	if c.Role != "" {
		s = fmt.Sprintf("iampolicy/%s %s %s %s", c.Resource, c.Role, c.Member, c.Action)
	} else {
		s = fmt.Sprintf("serviceaccount/%s %s", c.Resource[strings.LastIndex(c.Resource, "/")+1:], c.Action)
	}
	if c.Note != "" {
		s += " (" + c.Note + ")"
	}
	return s
}

// Report lists every step of Ensure or Remove in order. On failure it holds
// the steps done before it, so nothing changed goes unreported.
type Report struct {
	Mode identity.Mode
	// GSAEmail is the service account in gsa mode, for the KSA annotation.
	GSAEmail string
	// ProjectNumber is the (possibly resolved) project number.
	ProjectNumber int64
	Steps         []Change
}

// Changed lists the steps that changed something.
func (r Report) Changed() []Change {
	var out []Change
	for _, c := range r.Steps {
		if c.Action != ActionUnchanged && c.Action != ActionKept {
			out = append(out, c)
		}
	}
	return out
}

// Print writes one line per step.
func (r Report) Print(w io.Writer) error {
	for _, c := range r.Steps {
		if _, err := fmt.Fprintln(w, c.String()); err != nil {
			return err
		}
	}
	return nil
}

func (r *Report) add(c Change) { r.Steps = append(r.Steps, c) }

func (r *Report) policy(changed bool, yes Action, resource, role, member string) {
	a := ActionUnchanged
	if changed {
		a = yes
	}
	r.add(Change{Action: a, Resource: resource, Role: role, Member: member})
}

// failed wraps err with the changes made before it.
func (r *Report) failed(err error) error {
	done := r.Changed()
	if len(done) == 0 {
		return err
	}
	lines := make([]string, len(done))
	for i, c := range done {
		lines[i] = c.String()
	}
	return fmt.Errorf("%w\nchanged before the failure:\n  %s", err, strings.Join(lines, "\n  "))
}
