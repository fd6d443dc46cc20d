package preflight

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cluster"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"
)

// SelfDCGMSelector is what our dcgm-self ClusterPodMonitoring selects
// (embedded/library/components/dcgm-self): NVIDIA's dcgm-exporter chart's
// pod label.
const SelfDCGMSelector = "app.kubernetes.io/name=nvidia-dcgm-exporter"

// checkDCGMSelf: with --dcgm self our ClusterPodMonitoring scrapes exporter
// pods labelled SelfDCGMSelector; without any, the GPU metric never exists
// and the HPA waits forever, so the check fails.
func checkDCGMSelf(ctx context.Context, env cluster.Env, in Input, r *Result) {
	if in.Options.DCGM != kustomize.DCGMSelf {
		return
	}
	c := Check{Name: "DCGM exporter", Fix: "enable GKE's DCGM metrics package (gcloud container clusters update CLUSTER --location LOCATION --monitoring=SYSTEM,DCGM) and rerun with --dcgm managed, or run NVIDIA's dcgm-exporter with pod label " + SelfDCGMSelector}
	pods, err := env.Kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: SelfDCGMSelector, Limit: 1})
	switch {
	case err != nil:
		c.Detail = "cannot list pods: " + err.Error()
	case len(pods.Items) == 0:
		c.Detail = "--dcgm self scrapes pods labelled " + SelfDCGMSelector + ", and no pod in any namespace has that label"
	default:
		p := pods.Items[0]
		c.OK, c.Detail = true, fmt.Sprintf("--dcgm self scrapes exporter pods labelled %s (e.g. %s/%s)", SelfDCGMSelector, p.Namespace, p.Name)
	}
	r.add(c)
}
