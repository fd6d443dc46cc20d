package plan

import (
	"fmt"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cluster"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/discover"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"
)

// resolvePath turns --path auto into adapter or native from what the
// cluster serves, refuses --path native on a cluster without
// AutoscalingMetric, and notes the choice and why. On the native path
// nothing of ours needs Google Cloud IAM, so the Workload Identity mode
// becomes none.
func (p *Plan) resolvePath(env cluster.Env, o *kustomize.Options) error {
	if o.Path == kustomize.PathAdapter {
		p.note("path adapter (--path adapter)")
		return nil
	}
	n, err := discover.DetectNative(env.Kube.Discovery())
	if err != nil {
		return err
	}
	switch o.Path {
	case kustomize.PathNative:
		if err := n.RequireNative(); err != nil {
			return err
		}
		_, why := n.Native()
		p.note("path native (--path native; %s)", why)
	case kustomize.PathAuto:
		native, why := n.Native()
		if native {
			var kinds []kustomize.MetricKind
			for _, m := range o.MetricsOrDefault() {
				k, _ := kustomize.LookupMetric(m.Name)
				kinds = append(kinds, k)
			}
			if err := kustomize.NativeMetricsSupported(kinds); err != nil {
				native, why = false, fmt.Sprintf("the cluster serves %s, but %v", discover.NativeKind, err)
			}
		}
		o.Path = kustomize.PathAdapter
		if native {
			o.Path = kustomize.PathNative
		}
		p.note("path %s (%s)", o.Path, why)
	}
	if o.Path == kustomize.PathNative {
		o.WIMode = identity.ModeNone
	}
	return nil
}
