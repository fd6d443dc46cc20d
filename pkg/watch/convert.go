package watch

import (
	"fmt"
	"sort"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// hpaInfo turns an HPA object into what the screen shows.
func hpaInfo(hpa *autoscalingv2.HorizontalPodAutoscaler) *HPAInfo {
	info := &HPAInfo{
		Name:            hpa.Name,
		TargetKind:      hpa.Spec.ScaleTargetRef.Kind,
		TargetName:      hpa.Spec.ScaleTargetRef.Name,
		MinReplicas:     1,
		MaxReplicas:     hpa.Spec.MaxReplicas,
		CurrentReplicas: hpa.Status.CurrentReplicas,
		DesiredReplicas: hpa.Status.DesiredReplicas,
		Behavior:        behaviorSummary(hpa.Spec.Behavior),
	}
	if hpa.Spec.MinReplicas != nil {
		info.MinReplicas = *hpa.Spec.MinReplicas
	}
	if hpa.Status.LastScaleTime != nil {
		info.LastScaleTime = hpa.Status.LastScaleTime.Time
	}
	for _, c := range hpa.Status.Conditions {
		info.Conditions = append(info.Conditions, Condition{
			Type: string(c.Type), Status: string(c.Status), Reason: c.Reason,
			Message: c.Message, Since: c.LastTransitionTime.Time,
		})
	}
	return info
}

// behaviorSummary prints the scaling behavior in force, filling in the
// controller's defaults (scale up: no stabilization, max(4 pods, 100%) per
// 15 s; scale down: 300 s stabilization, 100% per 15 s).
func behaviorSummary(b *autoscalingv2.HorizontalPodAutoscalerBehavior) string {
	up := "up: stab 0s, max(4 pods,100%)/15s"
	down := "down: stab 300s, 100%/15s"
	if b != nil && b.ScaleUp != nil {
		up = "up: " + rulesSummary(b.ScaleUp, 0)
	}
	if b != nil && b.ScaleDown != nil {
		down = "down: " + rulesSummary(b.ScaleDown, 300)
	}
	return up + "; " + down
}

func rulesSummary(r *autoscalingv2.HPAScalingRules, defaultStab int32) string {
	stab := defaultStab
	if r.StabilizationWindowSeconds != nil {
		stab = *r.StabilizationWindowSeconds
	}
	if r.SelectPolicy != nil && *r.SelectPolicy == autoscalingv2.DisabledPolicySelect {
		return "disabled"
	}
	var pols []string
	for _, p := range r.Policies {
		unit := " pods"
		if p.Type == autoscalingv2.PercentScalingPolicy {
			unit = "%"
		}
		pols = append(pols, fmt.Sprintf("%d%s/%ds", p.Value, unit, p.PeriodSeconds))
	}
	sel := "max"
	if r.SelectPolicy != nil && *r.SelectPolicy == autoscalingv2.MinChangePolicySelect {
		sel = "min"
	}
	s := fmt.Sprintf("stab %ds", stab)
	switch len(pols) {
	case 0:
	case 1:
		s += ", " + pols[0]
	default:
		s += ", " + sel + "(" + strings.Join(pols, ",") + ")"
	}
	return s
}

// metricInfos pairs each spec metric with its current status value. A metric
// with no current value gets the message of the failing HPA condition.
func metricInfos(hpa *autoscalingv2.HorizontalPodAutoscaler) []MetricInfo {
	var failing string
	for _, c := range hpa.Status.Conditions {
		if c.Type == autoscalingv2.ScalingActive && c.Status == corev1.ConditionFalse {
			failing = c.Reason + ": " + c.Message
		}
	}
	out := make([]MetricInfo, 0, len(hpa.Spec.Metrics))
	for _, spec := range hpa.Spec.Metrics {
		name, target := specMetric(spec)
		mi := MetricInfo{Name: name, Type: string(spec.Type), TargetType: string(target.Type), Target: targetValue(target)}
		for _, st := range hpa.Status.CurrentMetrics {
			if st.Type != spec.Type {
				continue
			}
			if stName, cur, ok := statusMetric(st, target.Type); ok && stName == name {
				mi.HasCurrent, mi.Current = true, cur
			}
		}
		if !mi.HasCurrent && failing != "" {
			mi.Error = failing
		}
		out = append(out, mi)
	}
	return out
}

func specMetric(s autoscalingv2.MetricSpec) (string, autoscalingv2.MetricTarget) {
	switch {
	case s.Pods != nil:
		return s.Pods.Metric.Name, s.Pods.Target
	case s.Object != nil:
		return s.Object.Metric.Name, s.Object.Target
	case s.External != nil:
		return s.External.Metric.Name, s.External.Target
	case s.Resource != nil:
		return string(s.Resource.Name), s.Resource.Target
	case s.ContainerResource != nil:
		return s.ContainerResource.Container + "/" + string(s.ContainerResource.Name), s.ContainerResource.Target
	}
	return string(s.Type), autoscalingv2.MetricTarget{}
}

func targetValue(t autoscalingv2.MetricTarget) float64 {
	switch {
	case t.AverageUtilization != nil:
		return float64(*t.AverageUtilization)
	case t.AverageValue != nil:
		return t.AverageValue.AsApproximateFloat64()
	case t.Value != nil:
		return t.Value.AsApproximateFloat64()
	}
	return 0
}

func statusMetric(s autoscalingv2.MetricStatus, tt autoscalingv2.MetricTargetType) (string, float64, bool) {
	var name string
	var cur autoscalingv2.MetricValueStatus
	switch {
	case s.Pods != nil:
		name, cur = s.Pods.Metric.Name, s.Pods.Current
	case s.Object != nil:
		name, cur = s.Object.Metric.Name, s.Object.Current
	case s.External != nil:
		name, cur = s.External.Metric.Name, s.External.Current
	case s.Resource != nil:
		name, cur = string(s.Resource.Name), s.Resource.Current
	case s.ContainerResource != nil:
		name, cur = s.ContainerResource.Container+"/"+string(s.ContainerResource.Name), s.ContainerResource.Current
	default:
		return "", 0, false
	}
	v, ok := currentValue(cur, tt)
	return name, v, ok
}

func currentValue(c autoscalingv2.MetricValueStatus, tt autoscalingv2.MetricTargetType) (float64, bool) {
	if tt == autoscalingv2.UtilizationMetricType && c.AverageUtilization != nil {
		return float64(*c.AverageUtilization), true
	}
	for _, q := range []*resource.Quantity{c.AverageValue, c.Value} {
		if q != nil {
			return q.AsApproximateFloat64(), true
		}
	}
	if c.AverageUtilization != nil {
		return float64(*c.AverageUtilization), true
	}
	return 0, false
}

// podInfo turns a pod into a pods-table row.
func podInfo(p *corev1.Pod) PodInfo {
	info := PodInfo{Name: p.Name, Phase: string(p.Status.Phase), Created: p.CreationTimestamp.Time, Node: p.Spec.NodeName}
	if p.DeletionTimestamp != nil {
		info.Phase = "Terminating"
	}
	ready := 0
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Ready {
			ready++
		}
		info.Restarts += cs.RestartCount
		if t := cs.LastTerminationState.Terminated; t != nil && t.Reason != "" {
			info.LastTermination = t.Reason
		}
	}
	info.Ready = fmt.Sprintf("%d/%d", ready, len(p.Spec.Containers))
	info.IsReady = len(p.Spec.Containers) > 0 && ready == len(p.Spec.Containers)
	return info
}

func podInfos(pods []*corev1.Pod) []PodInfo {
	out := make([]PodInfo, 0, len(pods))
	for _, p := range pods {
		out = append(out, podInfo(p))
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// eventInfo turns an Event into a row; its time is the newest of the
// event's timestamps.
func eventInfo(e *corev1.Event) EventInfo {
	t := e.LastTimestamp.Time
	if t.IsZero() {
		t = e.EventTime.Time
	}
	if t.IsZero() {
		t = e.FirstTimestamp.Time
	}
	if t.IsZero() {
		t = e.CreationTimestamp.Time
	}
	count := e.Count
	if e.Series != nil && e.Series.Count > count {
		count = e.Series.Count
		if e.Series.LastObservedTime.After(t) {
			t = e.Series.LastObservedTime.Time
		}
	}
	return EventInfo{
		UID: string(e.UID), Time: t, Type: e.Type, Reason: e.Reason,
		Object: e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name, Message: e.Message, Count: count,
	}
}
