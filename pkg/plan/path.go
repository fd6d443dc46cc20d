package plan

import (
	"context"
	"fmt"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cluster"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/discover"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// nativeGVR is GKE's AutoscalingMetric resource.
var nativeGVR = schema.GroupVersionResource{Group: "autoscaling.gke.io", Version: "v1beta1", Resource: discover.NativeResource}

// resolvePath turns --path auto into adapter or native from what the
// cluster serves, refuses --path native on a cluster without
// AutoscalingMetric (or over GKE's per-cluster limit), and notes the choice
// and why. On the native path nothing of ours needs Google Cloud IAM, so
// the Workload Identity mode becomes none.
func (p *Plan) resolvePath(ctx context.Context, env cluster.Env, o *kustomize.Options) error {
	if o.Path == kustomize.PathAdapter {
		p.note("path adapter (--path adapter)")
		return nil
	}
	n, err := discover.DetectNative(env.Kube.Discovery())
	if err != nil {
		return err
	}
	c := *o // the names and metrics as they will be rendered
	c.Complete()
	switch o.Path {
	case kustomize.PathNative:
		if err := n.RequireNative(); err != nil {
			return err
		}
		if err := nativeRoom(ctx, env, n, c); err != nil {
			return err
		}
		_, why := n.Native()
		p.note("path native (--path native; %s)", why)
	case kustomize.PathAuto:
		native, why := n.Native()
		if native {
			if err := kustomize.NativeMetricsSupported(metricKinds(c)); err != nil {
				native, why = false, fmt.Sprintf("the cluster serves %s, but %v", discover.NativeKind, err)
			} else if err := nativeRoom(ctx, env, n, c); err != nil {
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

func metricKinds(o kustomize.Options) []kustomize.MetricKind {
	var kinds []kustomize.MetricKind
	for _, m := range o.Metrics {
		k, _ := kustomize.LookupMetric(m.Name)
		kinds = append(kinds, k)
	}
	return kinds
}

// nativeRoom checks GKE's per-cluster limit of unique metrics (Preview
// versions; "Expose custom metrics for autoscaling": at most 20 per
// cluster): the gauges of every other AutoscalingMetric in the cluster,
// each exposed as autoscaling.gke.io|OBJECT|GAUGE, plus ours (our own
// object's current gauges are replaced, so not counted). A cluster whose
// objects cannot be listed is not refused: GKE reports the limit itself.
func nativeRoom(ctx context.Context, env cluster.Env, n discover.NativeSupport, o kustomize.Options) error {
	limit := n.MaxMetrics()
	if limit == 0 || env.Dynamic == nil {
		return nil
	}
	list, err := env.Dynamic.Resource(nativeGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	others := map[string]bool{}
	for i := range list.Items {
		am := &list.Items[i]
		if am.GetNamespace() == o.Namespace && am.GetName() == o.AutoscalingMetricName {
			continue
		}
		for _, g := range gauges(am) {
			others[am.GetNamespace()+"/"+am.GetName()+"|"+g] = true
		}
	}
	ours := len(o.Metrics)
	if len(others)+ours <= limit {
		return nil
	}
	return fmt.Errorf("--path native: the cluster's other AutoscalingMetrics expose %d unique metrics and this adds %d, over GKE's limit of %d per cluster on %s (Preview below %s): remove some of theirs, scale on fewer metrics, or use --path adapter",
		len(others), ours, limit, n.Version, discover.NativeGAVersion)
}

// gauges lists the gauge names an AutoscalingMetric exposes
// (spec.metrics[].pod.containers[].metrics[].gauge.name).
func gauges(am *unstructured.Unstructured) []string {
	var out []string
	metrics, _, _ := unstructured.NestedSlice(am.Object, "spec", "metrics")
	for _, m := range metrics {
		containers, _, _ := unstructured.NestedSlice(asMap(m), "pod", "containers")
		for _, c := range containers {
			ms, _, _ := unstructured.NestedSlice(asMap(c), "metrics")
			for _, g := range ms {
				if name, _, _ := unstructured.NestedString(asMap(g), "gauge", "name"); name != "" {
					out = append(out, name)
				}
			}
		}
	}
	return out
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
