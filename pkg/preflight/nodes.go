package preflight

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cluster"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"
)

// checkAdapterNodes: with --adapter-nodes metadata-server (GKE Standard) the
// adapter's nodeSelector needs a schedulable node labelled
// iam.gke.io/gke-metadata-server-enabled=true that the adapter tolerates:
// any one node running the metadata server is not enough when the adapter
// may land on a pool without it, and none makes the adapter Pending.
func checkAdapterNodes(ctx context.Context, env cluster.Env, in Input, r *Result) {
	if in.Options.AdapterNodes != kustomize.AdapterNodesMetadataServer {
		return
	}
	c := Check{Name: "adapter nodes", Fix: "enable the GKE metadata server on a node pool: gcloud container node-pools update POOL --cluster CLUSTER --workload-metadata=GKE_METADATA, or rerun with --adapter-nodes any (e.g. on Autopilot)"}
	nodes, err := env.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: kustomize.MetadataServerNodeLabel + "=true"})
	if err != nil {
		c.Detail = "cannot list nodes: " + err.Error()
		r.add(c)
		return
	}
	cordoned, tainted := 0, 0
	for i := range nodes.Items {
		n := &nodes.Items[i]
		switch {
		case n.Spec.Unschedulable:
			cordoned++
		case !adapterTolerates(n.Spec.Taints):
			tainted++
		default:
			c.OK, c.Detail = true, fmt.Sprintf("the adapter can be scheduled on node %s (labelled %s=true)", n.Name, kustomize.MetadataServerNodeLabel)
			r.add(c)
			return
		}
	}
	if len(nodes.Items) == 0 {
		c.Detail = "no node is labelled " + kustomize.MetadataServerNodeLabel + "=true, so the adapter (nodeSelector from --adapter-nodes metadata-server) would stay Pending"
	} else {
		c.Detail = fmt.Sprintf("the %d node(s) labelled %s=true are cordoned (%d) or tainted against the adapter (%d), so it would stay Pending", len(nodes.Items), kustomize.MetadataServerNodeLabel, cordoned, tainted)
	}
	r.add(c)
}

// adapterTolerates: the adapter tolerates only nvidia.com/gpu=present
// (Equal); any other NoSchedule/NoExecute taint keeps it off the node.
func adapterTolerates(taints []corev1.Taint) bool {
	for _, t := range taints {
		if t.Effect == corev1.TaintEffectPreferNoSchedule {
			continue
		}
		if t.Key == "nvidia.com/gpu" && t.Value == "present" && t.Effect == corev1.TaintEffectNoSchedule {
			continue
		}
		return false
	}
	return true
}
