package apply

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// pollInterval is how often a wait re-reads the object.
const pollInterval = 100 * time.Millisecond

// Condition says whether a live object is where we want it, and if not,
// what it is stuck on.
type Condition func(live *unstructured.Unstructured) (ok bool, stuck string)

// Ready is kstatus' Current: rolled out, observed, available.
func Ready(live *unstructured.Unstructured) (bool, string) {
	if live == nil {
		return false, "does not exist"
	}
	res, err := status.Compute(live)
	if err != nil {
		return false, err.Error()
	}
	if res.Status == status.CurrentStatus {
		return true, ""
	}
	return false, fmt.Sprintf("status %s: %s", res.Status, res.Message)
}

// Available is the APIService's Available condition (kstatus does not know
// it: it reports every APIService as Current).
func Available(live *unstructured.Unstructured) (bool, string) {
	if live == nil {
		return false, "does not exist"
	}
	conds, _, _ := unstructured.NestedSlice(live.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] != "Available" {
			continue
		}
		if m["status"] == "True" {
			return true, ""
		}
		msg := fmt.Sprintf("Available=%v (%v: %v)", m["status"], m["reason"], m["message"])
		if m["reason"] == "FailedDiscoveryCheck" {
			msg += "; " + FirewallHint
		}
		return false, msg
	}
	return false, "Available condition not reported yet"
}

// FirewallHint is the likely cause of an APIService that fails its
// discovery check on GKE: the aggregator dials the adapter pod directly.
const FirewallHint = "on a private GKE cluster the likely cause is the control-plane firewall: GKE's own rule lets only TCP 443 and 10250 reach the nodes, so the adapter must serve on 443 in its pod (setup's does; check --adapter-image and any firewall rule of yours that blocks the control plane's range from the nodes on 443)"

// Gone holds when the object does not exist any more.
func Gone(live *unstructured.Unstructured) (bool, string) {
	if live == nil {
		return true, ""
	}
	if ts := live.GetDeletionTimestamp(); ts != nil {
		return false, fmt.Sprintf("deleting since %s, finalizers %v", ts.Format(time.RFC3339), live.GetFinalizers())
	}
	return false, "still exists"
}

// WaitFor polls objs until cond holds for all of them. When they do not
// already hold, it announces the wait (a spinner on a terminal) and, done,
// prints "done after ELAPSED"; on timeout the error names each object and
// what it is stuck on.
func (a *Applier) WaitFor(ctx context.Context, what, done string, objs []*unstructured.Unstructured, cond Condition) error {
	return a.waitFor(ctx, what, done, objs, cond, nil, a.Timeout)
}

// waitFor is WaitFor with explain, which may say better why an object is
// stuck (or end the wait with an error), and a timeout.
func (a *Applier) waitFor(ctx context.Context, what, done string, objs []*unstructured.Unstructured, cond Condition, explain func(context.Context, *unstructured.Unstructured) (string, error), timeout time.Duration) error {
	pending := map[int]string{}
	stuck, failed := map[int]bool{}, map[int]bool{}
	for i := range objs {
		pending[i] = "not checked yet"
	}
	check := func(ctx context.Context) (bool, error) {
		for i := range pending {
			live, err := a.Get(ctx, objs[i])
			if err != nil {
				// The first read error is kept: the last ones, at the
				// deadline, only say that the deadline came; and a read
				// error never hides what the object itself said.
				if !stuck[i] && !failed[i] {
					pending[i], failed[i] = err.Error(), true
				}
				continue
			}
			ok, why := cond(live)
			if ok {
				delete(pending, i)
				continue
			}
			if explain != nil && live != nil {
				better, err := explain(ctx, live)
				if err != nil {
					return false, err
				}
				if better != "" {
					why = better
				}
			}
			pending[i], stuck[i] = why, true
		}
		return len(pending) == 0, nil
	}
	if ok, err := check(ctx); ok || err != nil {
		if err == nil {
			a.Progress.Printf("%s", done)
		}
		return err
	}
	finish := a.Progress.Wait(what, done)
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := wait.PollUntilContextCancel(wctx, pollInterval, false, check)
	if err == nil {
		finish(nil)
		return nil
	}
	if !wait.Interrupted(err) && ctx.Err() == nil {
		finish(err) // explain ended the wait (a *Deferred, say)
		return err
	}
	var msgs []error
	for i, stuck := range pending {
		msgs = append(msgs, fmt.Errorf("%s: %s", Ref(objs[i]), stuck))
	}
	if ctx.Err() != nil {
		err = ctx.Err()
	} else {
		err = fmt.Errorf("timed out after %s waiting for %s (raise --timeout, or look at the objects below)", timeout, what)
	}
	err = errors.Join(append([]error{err}, msgs...)...)
	finish(err)
	return err
}
