package kustomize

import (
	"fmt"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
)

// Name limits the apiserver enforces.
const (
	maxObjectName = 253 // a DNS-1123 subdomain: most object names
	maxLabelValue = 63  // a label value, e.g. app=DEPLOYMENT
)

// validateDerivedNames rejects names that are too long for the apiserver
// before anything is rendered, naming the flag that sets each: the names
// that follow from --deployment (HPA, DEPLOYMENT-vllm, the pod label
// app=DEPLOYMENT) and the ApplySet parent infer-hpa-HPANAME. It runs before
// the per-flag checks so a long --deployment is not reported as a bad
// --podmonitoring-name the user never gave.
func (o *Options) validateDerivedNames() error {
	d := o.Deployment
	parent := apply.ParentPrefix + o.HPAName
	if o.HPAName != d && len(d) <= maxObjectName && len(o.HPAName) <= maxObjectName && len(parent) > maxObjectName {
		return fmt.Errorf("--hpa-name %q (%d characters) makes the ApplySet parent ConfigMap name %s%s over the limit of %d: give --hpa-name at most %d characters", short(o.HPAName), len(o.HPAName), apply.ParentPrefix, short(o.HPAName), maxObjectName, maxObjectName-len(apply.ParentPrefix))
	}
	if d == "" || len(d) > maxObjectName {
		return nil // validateNames names the limit of --deployment itself
	}
	derived := func(what, value, flag string, limit int) error {
		return fmt.Errorf("--deployment %q (%d characters) makes the %s %q, %d characters, over the limit of %d: give a shorter %s", short(d), len(d), what, short(value), len(value), limit, flag)
	}
	if o.HPAName == d && len(parent) > maxObjectName {
		return derived("ApplySet parent ConfigMap name", parent, fmt.Sprintf("--hpa-name (at most %d characters)", maxObjectName-len(apply.ParentPrefix)), maxObjectName)
	}
	if v := d + "-vllm"; o.PodMonitoringName == v && len(v) > maxObjectName {
		return derived("PodMonitoring name", v, fmt.Sprintf("--podmonitoring-name (at most %d characters)", maxObjectName), maxObjectName)
	}
	if v := d + "-vllm"; o.Path == PathNative && o.AutoscalingMetricName == v && len(v) > maxObjectName {
		return derived("AutoscalingMetric name", v, fmt.Sprintf("--autoscalingmetric-name (at most %d characters)", maxObjectName), maxObjectName)
	}
	if len(o.PodSelector) == 1 && o.PodSelector["app"] == d && len(d) > maxLabelValue {
		return derived("default pod selector app=DEPLOYMENT with a label value", d, "--pod-label KEY=VALUE naming a label the vLLM pods carry", maxLabelValue)
	}
	return nil
}

// short cuts a long name for an error line.
func short(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:20] + "…" + s[len(s)-12:]
}
