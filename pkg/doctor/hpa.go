package doctor

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// hpaTolerance is the HPA controller's default tolerance.
const hpaTolerance = 0.1

func (s *state) setupFix() string {
	name := s.deployName
	if name == "" {
		name = "DEPLOYMENT"
	}
	if s.native {
		return fmt.Sprintf("rerun `kubectl infer-hpa setup %s -n %s --path native`", name, s.in.Namespace)
	}
	return fmt.Sprintf("rerun `kubectl infer-hpa setup %s -n %s`", name, s.in.Namespace)
}

func checkHPA(ctx context.Context, s *state) []Check {
	const id = "hpa/target"
	if s.hpa == nil {
		return []Check{fail(LinkHPA, id, s.setupFix(), "no HPA scales deployment %s", s.deployName)}
	}
	h := s.hpa
	out := []Check{}
	ref := h.Spec.ScaleTargetRef
	switch {
	case ref.Kind != "Deployment":
		out = append(out, fail(LinkHPA, id, s.setupFix(), "HPA %s scales %s/%s, not a Deployment", h.Name, ref.Kind, ref.Name))
	case s.deploy == nil:
		out = append(out, fail(LinkHPA, id, s.setupFix(), "HPA %s scales deployment %s, which does not exist", h.Name, ref.Name))
	default:
		min := int32(1)
		if h.Spec.MinReplicas != nil {
			min = *h.Spec.MinReplicas
		}
		c := ok(LinkHPA, id, "HPA %s scales deployment %s between %d and %d replicas (now %d)", h.Name, ref.Name, min, h.Spec.MaxReplicas, h.Status.CurrentReplicas)
		if min == h.Spec.MaxReplicas {
			c = warn(LinkHPA, id, "give --min-replicas and --max-replicas different values (rerun setup)", "HPA %s has minReplicas = maxReplicas = %d: it can never scale", h.Name, min)
		}
		if others := s.otherScalers(ctx); len(others) > 0 {
			c = warn(LinkHPA, id, "leave one autoscaler per Deployment: delete the others", "deployment %s is also scaled by %s: they fight over replicas", ref.Name, strings.Join(others, ", "))
		}
		out = append(out, c)
	}
	return out
}

func checkHPAConditions(_ context.Context, s *state) []Check {
	if s.hpa == nil {
		return nil
	}
	return conditionChecks(s.hpa)
}

// otherScalers are the other HPAs of the namespace scaling the same Deployment.
func (s *state) otherScalers(ctx context.Context) []string {
	list, err := s.env.Kube.AutoscalingV2().HorizontalPodAutoscalers(s.in.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	var out []string
	for _, h := range list.Items {
		if h.Name != s.hpaName && h.Spec.ScaleTargetRef.Kind == "Deployment" && h.Spec.ScaleTargetRef.Name == s.deployName {
			out = append(out, "HPA/"+h.Name)
		}
	}
	sort.Strings(out)
	return out
}

func conditionChecks(h *autoscalingv2.HorizontalPodAutoscaler) []Check {
	const id = "hpa/conditions"
	if len(h.Status.Conditions) == 0 {
		return []Check{warn(LinkHPA, id, "the HPA controller sets them within 15 s; if they stay empty, check kube-controller-manager", "HPA %s has no conditions yet", h.Name)}
	}
	var bad, notes []string
	fix := ""
	for _, c := range h.Status.Conditions {
		line := fmt.Sprintf("%s=%s %s: %s", c.Type, c.Status, c.Reason, c.Message)
		switch {
		case c.Type == autoscalingv2.ScalingActive && c.Status != corev1.ConditionTrue,
			c.Type == autoscalingv2.AbleToScale && c.Status != corev1.ConditionTrue:
			bad = append(bad, line)
			if strings.HasPrefix(c.Reason, "FailedGet") {
				fix = "the HPA cannot read its metric: see the metrics-api and hpa/metric-names checks"
			}
		case c.Type == autoscalingv2.ScalingLimited && c.Status == corev1.ConditionTrue:
			notes = append(notes, line)
		}
	}
	if len(bad) > 0 {
		if fix == "" {
			fix = "`kubectl describe hpa " + h.Name + "` shows the controller's view"
		}
		return []Check{fail(LinkHPA, id, fix, "%s", trim(bad[0], 240)).asSymptom().with(bad...)}
	}
	c := ok(LinkHPA, id, "ScalingActive and AbleToScale are True")
	if len(notes) > 0 {
		c.Message += "; " + trim(notes[0], 160)
	}
	return []Check{c}
}

func checkHPAMetrics(ctx context.Context, s *state) []Check {
	const id = "hpa/metric-names"
	if s.hpa == nil {
		return nil
	}
	if len(s.metrics) == 0 {
		return []Check{fail(LinkHPA, id, s.setupFix(), "HPA %s has no Pods metric from custom.metrics.k8s.io", s.hpaName)}
	}
	for _, m := range s.metrics {
		if obj, gauge, native := parseNative(m.Name); native && m.Prom == "" {
			return []Check{skip(LinkHPA, id, "cannot tell what %s reads: AutoscalingMetric %s declares no gauge %s (see native/%s)", m.Name, obj, gauge, obj)}
		}
	}
	exp, pod, read := s.servedMetrics(ctx)
	var bad []string
	fix := s.setupFix() + " (it detects the names this vLLM serves)"
	for _, m := range s.metrics {
		by, _ := s.unknownMetric(ctx, m)
		switch {
		case by == "":
			continue
		case by != "/metrics":
			bad = append(bad, m.Prom+" (unknown to "+by+")")
			continue
		}
		switch {
		case m.Prom == vllmKVCache && has(exp, vllmGPUCacheV0):
			bad = append(bad, fmt.Sprintf("%s (this vLLM is older than 0.9.2 and serves %s)", m.Prom, vllmGPUCacheV0))
		case m.Prom == vllmGPUCacheV0 && has(exp, vllmKVCache):
			bad = append(bad, fmt.Sprintf("%s (removed in vLLM 0.12; this one serves %s)", m.Prom, vllmKVCache))
		default:
			bad = append(bad, m.Prom)
		}
	}
	if len(bad) > 0 {
		where := "which vLLM (pod " + pod + ") does not serve"
		if !read {
			where = "which does not exist"
		}
		return []Check{fail(LinkHPA, id, fix, "HPA %s scales on %s, %s", s.hpaName, strings.Join(bad, ", "), where)}
	}
	if !read && !s.apisAvailable(ctx) {
		return []Check{skip(LinkHPA, id, "cannot tell whether the HPA's metrics exist: neither vLLM's /metrics nor the custom metrics API could be read")}
	}
	names := make([]string, len(s.metrics))
	for i, m := range s.metrics {
		names[i] = m.Name
	}
	return []Check{ok(LinkHPA, id, "the HPA's metrics exist: %s", strings.Join(names, ", "))}
}

func has(e exposition, name string) bool { _, ok := e[name]; return ok }

// Event reasons of an HPA that cannot read or use its metrics.
var hpaFailureReasons = map[string]bool{"FailedGetPodsMetric": true, "FailedComputeMetricsReplicas": true, "FailedGetScale": true}

func checkHPAEvents(ctx context.Context, s *state) []Check {
	const id = "hpa/events"
	if s.hpa == nil {
		return nil
	}
	ns := s.in.Namespace
	p := perm{verb: "list", resource: "events", namespace: ns}
	if !s.can(ctx, p) {
		return []Check{denied(LinkHPA, id, p)}
	}
	sel := fields.Set{"involvedObject.kind": "HorizontalPodAutoscaler", "involvedObject.name": s.hpaName}.AsSelector().String()
	list, err := s.env.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return []Check{readErr(LinkHPA, id, p, err)}
	}
	now := s.env.Now()
	cutoff := now.Add(-s.in.Since)
	// Events from before the HPA last became able to read its metrics are
	// history: the link they were about has been repaired since.
	recovered := time.Time{}
	for _, c := range s.hpa.Status.Conditions {
		if c.Type == autoscalingv2.ScalingActive && c.Status == corev1.ConditionTrue && c.LastTransitionTime.After(cutoff) {
			recovered = c.LastTransitionTime.Time
			cutoff = recovered
		}
	}
	type ev struct {
		at   metav1.Time
		text string
	}
	var found []ev
	for _, e := range list.Items {
		if e.InvolvedObject.Name != s.hpaName || !hpaFailureReasons[e.Reason] {
			continue
		}
		at := e.LastTimestamp
		if at.IsZero() {
			at = metav1.NewTime(e.EventTime.Time)
		}
		if at.IsZero() {
			at = e.CreationTimestamp
		}
		if at.Time.Before(cutoff) {
			continue
		}
		found = append(found, ev{at, fmt.Sprintf("%s ago %s (x%d): %s", age(now.Sub(at.Time)), e.Reason, max(e.Count, 1), trim(e.Message, 200))})
	}
	if len(found) == 0 {
		if !recovered.IsZero() {
			return []Check{ok(LinkHPA, id, "no metric failure event since the HPA could read its metrics again, %s ago", age(now.Sub(recovered)))}
		}
		return []Check{ok(LinkHPA, id, "no FailedGetPodsMetric or FailedComputeMetricsReplicas event in the last %s", s.in.Since)}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].at.After(found[j].at.Time) })
	lines := make([]string, 0, len(found))
	for _, f := range found {
		lines = append(lines, f.text)
	}
	return []Check{warn(LinkHPA, id, "they stop once the metric is served; the checks above say which link is broken",
		"%s in the last %s; newest: %s", plural(len(found), "metric failure event"), s.in.Since, lines[0]).with(lines...)}
}

// checkHPAScale says what the HPA does with the values it reads now.
func checkHPAScale(_ context.Context, s *state) []Check {
	const id = "hpa/decision"
	h := s.hpa
	if h == nil || len(h.Status.CurrentMetrics) == 0 {
		return nil
	}
	cur := h.Status.CurrentReplicas
	best, why := int32(0), []string{}
	for i, m := range h.Status.CurrentMetrics {
		if m.Type != autoscalingv2.PodsMetricSourceType || m.Pods == nil || m.Pods.Current.AverageValue == nil {
			continue
		}
		target := 0.0
		for _, sm := range h.Spec.Metrics {
			if sm.Pods != nil && sm.Pods.Metric.Name == m.Pods.Metric.Name && sm.Pods.Target.AverageValue != nil {
				target = sm.Pods.Target.AverageValue.AsApproximateFloat64()
			}
		}
		if target <= 0 {
			continue
		}
		v := m.Pods.Current.AverageValue.AsApproximateFloat64()
		want := Proposal(cur, v, target)
		why = append(why, fmt.Sprintf("%s: %s per pod vs target %s → %d", shortName(m.Pods.Metric.Name), fmtNum(v), fmtNum(target), want))
		if i == 0 || want > best {
			best = want
		}
	}
	if len(why) == 0 {
		return nil
	}
	min := int32(1)
	if h.Spec.MinReplicas != nil {
		min = *h.Spec.MinReplicas
	}
	best = max(min, minI(best, h.Spec.MaxReplicas))
	verb := "stays at"
	switch {
	case best > cur:
		verb = "scales up to"
	case best < cur:
		verb = "scales down to (after the 5-minute stabilization window)"
	}
	return []Check{ok(LinkHPA, id, "%s; the HPA %s %d", strings.Join(why, "; "), verb, best)}
}

// Proposal is the HPA controller's replica count for one Pods metric:
// ceil(current × value/target), unless the ratio is within the tolerance.
func Proposal(current int32, value, target float64) int32 {
	ratio := value / target
	if math.Abs(ratio-1) <= hpaTolerance {
		return current
	}
	return int32(math.Ceil(ratio * float64(current)))
}

func shortName(adapterName string) string {
	if m := parseMetric(adapterName); m.Prom != "" {
		return m.Prom
	}
	return adapterName
}

func minI(a, b int32) int32 {
	if a < b {
		return a
	}
	return b
}
