// Package preflight checks, before setup writes anything, that the cluster
// can take the plan: each check has a name, a verdict and a one-line fix.
// Every check only reads.
package preflight

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cluster"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/printers"
)

// Check is one verdict.
type Check struct {
	Name   string
	OK     bool
	Detail string
	// Fix is what to do when the check failed.
	Fix string
	// Warn marks a check that passed without being able to check fully.
	Warn bool
}

// Input is what the checks look at.
type Input struct {
	Options    kustomize.Options
	Deployment *appsv1.Deployment
	// Objects is the prepared plan, the ApplySet parent included.
	Objects []*unstructured.Unstructured
	// Force is --force-conflicts: foreign owners are reported, not fatal.
	Force bool
	// Adopt is --adopt-podmonitoring: a foreign PodMonitoring that setup
	// takes over under its own name.
	Adopt string
	// SetID is the inventory's ID: objects labelled with it are ours.
	SetID string
}

// Result holds every check and what they found.
type Result struct {
	Checks []Check
	// Foreign are planned objects that exist and are not ours.
	Foreign []*unstructured.Unstructured
	// ExistingNamespaces are planned namespaces that exist and are not ours.
	ExistingNamespaces map[string]bool
	// MetricRenames maps a vLLM metric name to the one this vLLM serves
	// instead (see RenameMetrics).
	MetricRenames map[string]string
	// lives are the live copies of the planned objects, read once.
	lives map[*unstructured.Unstructured]live
	mu    sync.Mutex
}

func (r *Result) add(c Check) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Checks = append(r.Checks, c)
}

// Failed lists the failed checks.
func (r *Result) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// Print writes one line per check and the fix under each failure.
func (r *Result) Print(w io.Writer) {
	for _, c := range r.Checks {
		mark, fix := "ok", ""
		if !c.OK {
			mark, fix = "FAIL", c.Fix
		} else if c.Warn {
			mark = "warn"
		}
		printers.CheckLine(w, mark, c.Name, c.Detail, fix, false)
	}
}

// Err is nil when every check passed, else one line naming the failures.
func (r *Result) Err() error {
	failed := r.Failed()
	if len(failed) == 0 {
		return nil
	}
	names := make([]string, len(failed))
	for i, c := range failed {
		names[i] = c.Name
	}
	return fmt.Errorf("preflight failed (%s): nothing was changed; fix the above and rerun", strings.Join(names, "; "))
}

type live struct {
	obj *unstructured.Unstructured
	err error
}

// readLives reads every planned object the cluster serves, in parallel.
func (r *Result) readLives(ctx context.Context, env cluster.Env, objs []*unstructured.Unstructured) {
	r.lives = map[*unstructured.Unstructured]live{}
	var g errgroup.Group
	g.SetLimit(8)
	for _, o := range objs {
		if _, err := env.Mapping(o.GroupVersionKind()); err != nil {
			continue // the CRD check reports kinds the cluster does not serve
		}
		g.Go(func() error {
			obj, err := env.Get(ctx, o)
			r.mu.Lock()
			r.lives[o] = live{obj, err}
			r.mu.Unlock()
			return nil
		})
	}
	_ = g.Wait()
}

// Run runs every check in order and returns them all.
func Run(ctx context.Context, env cluster.Env, in Input) *Result {
	r := &Result{}
	r.readLives(ctx, env, in.Objects)
	checks := []func(context.Context, cluster.Env, Input, *Result){
		checkCRDs, checkMetricsPort, checkAPIServices, checkAccess, checkWorkloadIdentity, checkAdapterNodes, checkDCGMSelf, checkScrapers, checkForeign, checkMetricsServed,
	}
	for _, c := range checks {
		c(ctx, env, in, r)
	}
	return r
}
