package plan

import "github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"

// chooseDCGM is --dcgm when the user did not give it: GKE's exporter when
// it runs, else our own if a GPU metric needs one, else off.
func chooseDCGM(managed bool, metrics []kustomize.Metric) string {
	if managed {
		return kustomize.DCGMManaged
	}
	for _, m := range metrics {
		if k, ok := kustomize.LookupMetric(m.Name); ok && k.NeedsDCGM {
			return kustomize.DCGMSelf
		}
	}
	return kustomize.DCGMOff
}
