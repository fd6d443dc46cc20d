package apply

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Report is what Apply or Delete did, object by object.
type Report struct {
	Results []Result
	// Kept are shared objects left in place because other infer-hpa
	// inventories use them.
	Kept []string
}

// Count returns how many objects ended with each outcome.
func (r *Report) Count() map[Outcome]int {
	n := map[Outcome]int{}
	for _, res := range r.Results {
		if res.Err == nil {
			n[res.Outcome]++
		}
	}
	return n
}

// Apply puts the prepared objects (see ApplySet.Prepare) on the cluster:
// the parent first with the union of old and new kinds, then level by level
// with waits, then prune of members no longer planned, then the parent with
// the final kinds. On error it stops; what was done is in the report, and
// the members carry the set's label, so cleanup still finds them. What is
// pruned or kept follows the ownership policy of own's inventory.
func (a *Applier) Apply(ctx context.Context, own *Ownership, objs []*unstructured.Unstructured) (*Report, error) {
	set := own.Set()
	rep := &Report{}
	old, err := a.ReadParent(ctx, set)
	if err != nil {
		return rep, err
	}
	oldGKs, oldNS := footprintOf(old)
	newGKs, newNS := Footprint(objs)
	parent := set.Parent(unionGKs(oldGKs, newGKs), uniqueSorted(append(oldNS, newNS...)))
	out, _, err := a.ApplyOne(ctx, parent)
	if err != nil {
		return rep, err
	}
	a.Progress.Object(Ref(parent), string(out), a.DryRun)
	rep.Results = append(rep.Results, Result{Ref: Ref(parent), Outcome: out})

	var deferred *Deferred
	for _, level := range Levels(objs) {
		lives, results, err := a.applyLevel(ctx, level.Objects)
		rep.Results = append(rep.Results, results...)
		if err != nil {
			return rep, err
		}
		if deferred != nil {
			if level.Wait != WaitNone {
				a.Progress.Printf("not waiting for the %s: %s", level.Name, deferred.Reason)
			}
			continue
		}
		if err := a.waitLevel(ctx, level, lives); errors.As(err, &deferred) {
			continue
		} else if err != nil {
			return rep, err
		}
	}

	if err := a.prune(ctx, own, objs, unionGKs(oldGKs, newGKs), uniqueSorted(append(oldNS, newNS...)), rep); err != nil {
		return rep, err
	}
	final := set.Parent(newGKs, newNS)
	if _, _, err := a.ApplyOne(ctx, final); err != nil {
		return rep, err
	}
	if deferred != nil {
		return rep, deferred
	}
	return rep, nil
}

func (a *Applier) waitLevel(ctx context.Context, level Level, lives []*unstructured.Unstructured) error {
	var cond Condition
	var what, done string
	var explain func(context.Context, *unstructured.Unstructured) (string, error)
	timeout := a.Timeout
	switch level.Wait {
	case WaitReady:
		cond, what, done = Ready, "the adapter to be ready", "the adapter is ready"
		explain = a.Explain
		if a.ReadyTimeout > 0 {
			timeout = a.ReadyTimeout
		}
	case WaitAvailable:
		cond, what, done = Available, "the metrics APIs to be Available", "the metrics APIs are Available"
	default:
		return nil
	}
	if a.DryRun.On() {
		a.Progress.Printf("not waiting for %s (server dry run)", what)
		return nil
	}
	var objs []*unstructured.Unstructured
	for _, l := range lives {
		if l == nil {
			continue // not checked by a server dry run
		}
		if ok, _ := cond(l); !ok {
			objs = append(objs, l)
		}
	}
	return a.waitFor(ctx, what, done, objs, cond, explain, timeout)
}

// prune deletes the members of the set that the plan no longer has, except
// those the policy keeps.
func (a *Applier) prune(ctx context.Context, own *Ownership, planned []*unstructured.Unstructured, gks []schema.GroupKind, namespaces []string, rep *Report) error {
	prune, kept, err := own.Prunable(ctx, planned, gks, namespaces)
	if err != nil {
		return err
	}
	rep.Kept = append(rep.Kept, kept...)
	var errs []error
	for _, m := range prune {
		err := a.deleteOne(ctx, m)
		rep.Results = append(rep.Results, Result{Ref: Ref(m), Outcome: Pruned, Err: err})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		a.Progress.Object(Ref(m), string(Pruned), a.DryRun)
	}
	return errors.Join(errs...)
}

func (a *Applier) deleteOne(ctx context.Context, obj *unstructured.Unstructured) error {
	ri, err := a.Resource(obj)
	if err != nil {
		return err
	}
	policy := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &policy}
	switch a.DryRun {
	case DryRunClient:
		return nil
	case DryRunServer:
		opts.DryRun = []string{metav1.DryRunAll}
	}
	if err := ignoreNotFound(ri.Delete(ctx, obj.GetName(), opts)); err != nil {
		return describeApplyError(obj, err)
	}
	return nil
}

// ErrNoInventory means there is nothing of ours to delete.
var ErrNoInventory = errors.New("no infer-hpa inventory")

// Delete removes what the ownership policy lets cleanup delete of own's
// inventory (see Ownership.Deletable) in reverse apply order, waiting for
// each level to be gone, then the parent. With DryRun it only lists.
func (a *Applier) Delete(ctx context.Context, own *Ownership) (*Report, error) {
	set := own.Set()
	rep := &Report{}
	parent, err := a.ReadParent(ctx, set)
	if err != nil {
		return rep, err
	}
	if parent == nil {
		return rep, fmt.Errorf("%w: %s does not exist", ErrNoInventory, set)
	}
	del, kept, err := own.Deletable(ctx, parent)
	if err != nil {
		return rep, err
	}
	rep.Kept = kept
	groups := map[int][]*unstructured.Unstructured{}
	for _, m := range del {
		r := deleteRank(m.GroupVersionKind().GroupKind())
		groups[r] = append(groups[r], m)
	}
	for r := 0; r <= len(levelOrder); r++ {
		if err := a.deleteGroup(ctx, groups[r], rep); err != nil {
			return rep, err
		}
	}
	return rep, a.deleteGroup(ctx, []*unstructured.Unstructured{parent}, rep)
}

func (a *Applier) deleteGroup(ctx context.Context, objs []*unstructured.Unstructured, rep *Report) error {
	if len(objs) == 0 {
		return nil
	}
	var errs []error
	for _, o := range objs {
		err := a.deleteOne(ctx, o)
		rep.Results = append(rep.Results, Result{Ref: Ref(o), Outcome: Deleted, Err: err})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		a.Progress.Object(Ref(o), string(Deleted), a.DryRun)
	}
	if len(errs) > 0 || a.DryRun.On() {
		return errors.Join(errs...)
	}
	return a.WaitFor(ctx, fmt.Sprintf("%s to be gone", countObjects(len(objs))), fmt.Sprintf("%s gone", countObjects(len(objs))), objs, Gone)
}

func countObjects(n int) string {
	if n == 1 {
		return "1 object"
	}
	return fmt.Sprintf("%d objects", n)
}
