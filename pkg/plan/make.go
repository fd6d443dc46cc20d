package plan

import (
	"context"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cluster"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/preflight"
)

// Make is the one way setup and diff (and anything else that must show
// what setup will do) plan: Build reads the cluster and renders, preflight
// judges the finished plan, and what preflight found existing and foreign
// is disowned (never joins the inventory) or left out (namespaces), by the
// ownership policy (apply.Ownership). The
// plan is returned even when a check failed, so that the caller can print
// the checks; setup then stops, diff reports that setup would stop.
func Make(ctx context.Context, env cluster.Env, in Input) (*Plan, *preflight.Result, error) {
	p, err := Build(ctx, env, in)
	if err != nil {
		return nil, nil, err
	}
	res := preflight.Run(ctx, env, preflight.Input{
		Options:    p.Options,
		Deployment: p.Target.Deployment,
		Objects:    p.WithParent(),
		Force:      in.Force,
		Adopt:      in.Adopt,
		SetID:      p.Set.ID(),
	})
	var notes []string
	p.Objects, notes = apply.Disown(p.Objects, res.Foreign, res.ExistingNamespaces)
	p.Notes = append(p.Notes, notes...)
	return p, res, nil
}
