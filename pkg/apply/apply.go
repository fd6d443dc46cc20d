package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// AnnotationHash records a hash of what setup applied to an object. The
// subset test alone cannot see a field we stopped applying (a removed
// annotation); with the hash in the desired object it can.
const AnnotationHash = "infer-hpa.github.io/applied-hash"

var metav1GetOptions = metav1.GetOptions{}

// Outcome is what happened to one object.
type Outcome string

// Outcomes, as kubectl prints them.
const (
	Created    Outcome = "created"
	Configured Outcome = "configured"
	Unchanged  Outcome = "unchanged"
	Pruned     Outcome = "pruned"
	Deleted    Outcome = "deleted"
	// NotChecked: a server dry run could not check the object, because its
	// namespace is only dry-run-created (the Result's Detail says which).
	NotChecked Outcome = "not checked"
)

// Applier applies objects with server-side apply.
type Applier struct {
	Clients
	// Force takes fields owned by other managers (--force-conflicts).
	Force bool
	// DryRun: DryRunServer sends every write as a server-side dry run;
	// DryRunClient (only for Delete) lists without a request.
	DryRun DryRunMode
	// Timeout bounds each wait.
	Timeout time.Duration
	// Progress receives one line per object and the waits.
	Progress *Progress
	// Parallel bounds the requests in flight within a level (0: 8).
	Parallel int
	// ReadyTimeout, when set, bounds the wait for the adapter instead of
	// Timeout (setup waits longer after a fresh IAM grant).
	ReadyTimeout time.Duration
	// Explain, when set, is asked why a Deployment is not Ready yet; its
	// answer replaces kstatus' message. A *Deferred error ends the wait:
	// Apply applies the remaining levels without waiting and returns it.
	Explain func(ctx context.Context, live *unstructured.Unstructured) (string, error)
	// Adopted, when set, says which objects the user adopted by name:
	// they are applied with Force.
	Adopted func(obj *unstructured.Unstructured) bool
}

// Deferred ends a wait for a reason outside the cluster (the adapter
// waits for an IAM grant the user makes): what follows is applied without
// waiting, and Apply returns it.
type Deferred struct {
	Reason string
}

func (d *Deferred) Error() string { return d.Reason }

// Stamp adds the applied-hash annotation to obj (before it is labelled into
// an ApplySet, so the hash covers only the plan).
func Stamp(obj *unstructured.Unstructured) {
	b, _ := obj.MarshalJSON()
	sum := sha256.Sum256(b)
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[AnnotationHash] = hex.EncodeToString(sum[:8])
	obj.SetAnnotations(a)
}

// ApplyOne applies obj unless the live object already holds all of it.
func (a *Applier) ApplyOne(ctx context.Context, obj *unstructured.Unstructured) (Outcome, *unstructured.Unstructured, error) {
	ri, err := a.Resource(obj)
	if err != nil {
		return "", nil, err
	}
	live, err := ri.Get(ctx, obj.GetName(), metav1GetOptions)
	if ignoreNotFound(err) != nil {
		return "", nil, fmt.Errorf("%s: reading the live object: %w", Ref(obj), err)
	}
	if err == nil && IsSubset(obj.Object, live.Object) {
		return Unchanged, live, nil
	}
	if err != nil {
		live = nil
	}
	data, err := obj.MarshalJSON()
	if err != nil {
		return "", nil, err
	}
	force := a.Force || a.Adopted != nil && a.Adopted(obj)
	opts := metav1.PatchOptions{FieldManager: FieldManager, Force: &force}
	if a.DryRun.On() {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	got, err := ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, opts)
	if err != nil && a.DryRun == DryRunServer && live == nil && obj.GetNamespace() != "" && apierrors.IsNotFound(err) {
		// Its namespace is only dry-run-created: the apiserver cannot
		// check objects in it (kubectl's server dry run has the same limit).
		return NotChecked, nil, nil
	}
	if err != nil {
		return "", nil, describeApplyError(obj, err)
	}
	switch {
	case live == nil:
		return Created, got, nil
	case got.GetResourceVersion() == live.GetResourceVersion():
		return Unchanged, got, nil
	}
	return Configured, got, nil
}

// describeApplyError turns a conflict into one line per field, and any
// other refusal (admission, validation) into the object and the message.
func describeApplyError(obj *unstructured.Unstructured, err error) error {
	var status apierrors.APIStatus
	if apierrors.IsConflict(err) && errors.As(err, &status) && status.Status().Details != nil {
		var lines []string
		for _, c := range status.Status().Details.Causes {
			if c.Type == metav1.CauseTypeFieldManagerConflict {
				lines = append(lines, fmt.Sprintf("  %s: %s", c.Field, c.Message))
			}
		}
		if len(lines) > 0 {
			return fmt.Errorf("%s: fields owned by another field manager (rerun with --force-conflicts to take them):\n%s", Ref(obj), strings.Join(lines, "\n"))
		}
	}
	if errors.As(err, &status) {
		return fmt.Errorf("%s: %s", Ref(obj), status.Status().Message)
	}
	return fmt.Errorf("%s: %w", Ref(obj), err)
}

// DryRunMode is kubectl's --dry-run.
type DryRunMode string

// The --dry-run values.
const (
	DryRunNone   DryRunMode = "none"
	DryRunClient DryRunMode = "client"
	DryRunServer DryRunMode = "server"
)

// ParseDryRun reads --dry-run.
func ParseDryRun(s string) (DryRunMode, error) {
	switch m := DryRunMode(s); m {
	case DryRunNone, DryRunClient, DryRunServer:
		return m, nil
	case "":
		return DryRunNone, nil
	}
	return "", fmt.Errorf("--dry-run %q is not supported: use none, client or server", s)
}

// Result is one object's outcome.
type Result struct {
	Ref     string
	Outcome Outcome
	// Detail says why, for NotChecked.
	Detail string
	Err    error
}

// line is the outcome as Progress prints it after the object.
func (r Result) line() string {
	if r.Detail != "" {
		return string(r.Outcome) + ": " + r.Detail
	}
	return string(r.Outcome)
}

// applyLevel applies the objects of a level in parallel and prints their
// lines in plan order. It returns the live objects and every error.
func (a *Applier) applyLevel(ctx context.Context, objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, []Result, error) {
	results := make([]Result, len(objs))
	lives := make([]*unstructured.Unstructured, len(objs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.parallel())
	for i, obj := range objs {
		g.Go(func() error {
			out, live, err := a.ApplyOne(gctx, obj)
			results[i] = Result{Ref: Ref(obj), Outcome: out, Err: err}
			if out == NotChecked {
				results[i].Detail = "namespace " + obj.GetNamespace() + " does not exist yet"
			}
			lives[i] = live
			return nil
		})
	}
	_ = g.Wait()
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
			continue
		}
		a.Progress.Object(r.Ref, r.line(), a.DryRun)
	}
	return lives, results, errors.Join(errs...)
}

func (a *Applier) parallel() int {
	if a.Parallel > 0 {
		return a.Parallel
	}
	return 8
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// On says whether nothing is to be persisted.
func (m DryRunMode) On() bool { return m == DryRunClient || m == DryRunServer }
