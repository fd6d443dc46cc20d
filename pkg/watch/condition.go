package watch

import autoscalingv2 "k8s.io/api/autoscaling/v2"

// Verdict is what an HPA condition's status means for scaling. Its polarity
// differs by type: AbleToScale and ScalingActive are good when True,
// ScalingLimited and ScaledToZero are normal when False and a state worth
// noticing (not a failure) when True.
type Verdict int

const (
	// Normal: the HPA works as intended (AbleToScale=True,
	// ScalingActive=True, ScalingLimited=False, ScaledToZero=False).
	Normal Verdict = iota
	// Notable: a normal state the user may want to see: the count is
	// capped at min or max (ScalingLimited=True), the workload was scaled to
	// zero (ScaledToZero=True), autoscaling is off because the target has 0
	// replicas (ScalingActive=False ScalingDisabled), or a condition type
	// this version does not know.
	Notable
	// Failing: the HPA cannot scale (AbleToScale=False: FailedGetScale,
	// FailedUpdateScale) or cannot compute a count (ScalingActive=False:
	// FailedGetPodsMetric, InvalidSelector …).
	Failing
	// Unknown: the status is Unknown.
	Unknown
)

// String is the verdict's word, as watch --plain prints it.
func (v Verdict) String() string {
	switch v {
	case Normal:
		return "normal"
	case Notable:
		return "notable"
	case Failing:
		return "failing"
	}
	return "unknown"
}

// Verdict says what the condition means.
func (c Condition) Verdict() Verdict {
	if c.Status != "True" && c.Status != "False" {
		return Unknown
	}
	isTrue := c.Status == "True"
	switch autoscalingv2.HorizontalPodAutoscalerConditionType(c.Type) {
	case autoscalingv2.AbleToScale:
		if isTrue {
			return Normal
		}
		return Failing
	case autoscalingv2.ScalingActive:
		switch {
		case isTrue:
			return Normal
		case c.Reason == "ScalingDisabled":
			return Notable
		}
		return Failing
	case autoscalingv2.ScalingLimited, autoscalingv2.ScaledToZero:
		if isTrue {
			return Notable
		}
		return Normal
	}
	return Notable
}
