package watch

import "testing"

// The reasons are the HPA controller's own (pkg/controller/podautoscaler).
func TestConditionVerdict(t *testing.T) {
	for _, c := range []struct {
		typ, status, reason string
		want                Verdict
	}{
		{"AbleToScale", "True", "ReadyForNewScale", Normal},
		{"AbleToScale", "True", "ScaleDownStabilized", Normal},
		{"AbleToScale", "False", "FailedGetScale", Failing},
		{"AbleToScale", "False", "FailedUpdateScale", Failing},
		{"ScalingActive", "True", "ValidMetricFound", Normal},
		{"ScalingActive", "False", "FailedGetPodsMetric", Failing},
		{"ScalingActive", "False", "InvalidSelector", Failing},
		{"ScalingActive", "False", "ScalingDisabled", Notable},
		{"ScalingLimited", "False", "DesiredWithinRange", Normal},
		{"ScalingLimited", "True", "TooManyReplicas", Notable},
		{"ScaledToZero", "False", "NotScaledToZero", Normal},
		{"ScaledToZero", "True", "ScaledToZero", Notable},
		{"ScalingActive", "Unknown", "", Unknown},
		{"SomethingNew", "True", "X", Notable},
	} {
		got := Condition{Type: c.typ, Status: c.status, Reason: c.reason}.Verdict()
		if got != c.want {
			t.Errorf("%s=%s %s: %s, want %s", c.typ, c.status, c.reason, got, c.want)
		}
	}
}
