package watch

import (
	"strings"
	"testing"
	"time"
)

func snap(sec int, cur, desired int32, value float64) Snapshot {
	return Snapshot{
		Time: t0.Add(time.Duration(sec) * time.Second), Namespace: ns,
		HPA: &HPAInfo{Name: "vllm-hpa", TargetKind: "Deployment", TargetName: "vllm", MinReplicas: 1, MaxReplicas: 5,
			CurrentReplicas: cur, DesiredReplicas: desired, Behavior: "up: stab 0s; down: stab 300s",
			Conditions: []Condition{{Type: "ScalingActive", Status: "True", Reason: "ValidMetricFound"}}},
		Metrics: []MetricInfo{{Name: "vllm:num_requests_running", TargetType: "AverageValue", Target: 4, HasCurrent: true, Current: value}},
	}
}

func TestPlainPrinterPrintsOneLinePerChange(t *testing.T) {
	var b strings.Builder
	p := &PlainPrinter{W: &b}
	s0 := snap(0, 1, 1, 0.5)
	s1 := snap(1, 1, 1, 0.5) // nothing changed
	s2 := snap(2, 1, 3, 6.5)
	s2.HPA.Conditions[0].Reason = "SucceededRescale"
	s2.Events = []EventInfo{{UID: "e1", Type: "Normal", Reason: "SuccessfulRescale", Object: "HorizontalPodAutoscaler/vllm-hpa", Message: "New size: 3", Count: 1}}
	s3 := snap(3, 3, 3, 6.5)
	s3.Events = s2.Events
	s3.Logs = []LogLine{{Seq: 1, Pod: "adapter-1", Text: "I serving"}, {Seq: 2, Pod: "adapter-1", Text: "E 403 denied", Error: true}}
	s3.PodsError = "forbidden: no RBAC to list/watch pods"
	s4 := snap(4, 3, 3, 6.5)
	s4.Events, s4.Logs, s4.PodsError = s3.Events, s3.Logs, s3.PodsError
	s4.Metrics[0].HasCurrent = false
	s4.Metrics[0].Error = "FailedGetPodsMetric: unable to get metric"
	for _, s := range []Snapshot{s0, s1, s2, s3, s4} {
		if err := p.Print(s); err != nil {
			t.Fatal(err)
		}
	}
	want := `2026-11-26T18:00:00Z hpa default/vllm-hpa -> Deployment/vllm min=1 max=5 replicas=1 desired=1 behavior="up: stab 0s; down: stab 300s"
2026-11-26T18:00:00Z condition ScalingActive=True ValidMetricFound (normal)
2026-11-26T18:00:00Z metric vllm:num_requests_running 0.5 (target AverageValue 4)
2026-11-26T18:00:02Z desired 1 -> 3
2026-11-26T18:00:02Z condition ScalingActive=True SucceededRescale (normal)
2026-11-26T18:00:02Z metric vllm:num_requests_running 6.5 (target AverageValue 4)
2026-11-26T18:00:02Z event Normal SuccessfulRescale HorizontalPodAutoscaler/vllm-hpa: New size: 3
2026-11-26T18:00:03Z replicas 1 -> 3
2026-11-26T18:00:03Z condition ScalingActive=True ValidMetricFound (normal)
2026-11-26T18:00:03Z pods: forbidden: no RBAC to list/watch pods
2026-11-26T18:00:03Z adapter-error adapter-1: E 403 denied
2026-11-26T18:00:04Z metric vllm:num_requests_running error: FailedGetPodsMetric: unable to get metric
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestReplicaGoal(t *testing.T) {
	up := &ReplicaGoal{N: 3}
	for i, c := range []struct {
		cur  int32
		want bool
	}{{1, false}, {2, false}, {4, true}} {
		if got := up.Reached(snap(i, c.cur, c.cur, 0)); got != c.want {
			t.Errorf("up: cur %d reached=%v", c.cur, got)
		}
	}
	down := &ReplicaGoal{N: 1}
	if down.Reached(snap(0, 3, 3, 0)) || !down.Reached(snap(1, 1, 1, 0)) {
		t.Error("down goal wrong")
	}
	if (&ReplicaGoal{N: 1}).Reached(Snapshot{}) {
		t.Error("no HPA must not reach")
	}
}

func TestHistoryIsBounded(t *testing.T) {
	h := newHistoryRecorder(5, time.Second)
	info := &HPAInfo{CurrentReplicas: 1, DesiredReplicas: 1}
	m := []MetricInfo{{Name: "m", HasCurrent: true, Current: 1, Target: 4}}
	for i := 0; i < 20; i++ {
		info.CurrentReplicas = int32(i)
		m[0].Current = float64(i)
		h.record(t0.Add(time.Duration(i)*100*time.Millisecond), info, m)
	}
	got := h.snapshot()
	if len(got.Replicas) != 5 || got.Replicas[0].Current != 15 || got.Replicas[4].Current != 19 {
		t.Errorf("replicas = %+v", got.Replicas)
	}
	if len(got.Metrics["m"]) != 5 || got.Metrics["m"][4].Target != 4 {
		t.Errorf("metrics = %+v", got.Metrics["m"])
	}
	// Unchanged values are sampled once per interval only.
	h2 := newHistoryRecorder(100, time.Second)
	for i := 0; i < 30; i++ {
		h2.record(t0.Add(time.Duration(i)*100*time.Millisecond), &HPAInfo{CurrentReplicas: 1}, nil)
	}
	if n := len(h2.snapshot().Replicas); n != 3 {
		t.Errorf("quiet HPA gave %d points over 3s, want 3", n)
	}
}

func TestBehaviorSummaryAndFormat(t *testing.T) {
	if got := FormatValue(6.5); got != "6.5" {
		t.Errorf("FormatValue(6.5) = %q", got)
	}
	if got := FormatValue(4); got != "4" {
		t.Errorf("FormatValue(4) = %q", got)
	}
	if got := behaviorSummary(nil); got != "up: stab 0s, max(4 pods,100%)/15s; down: stab 300s, 100%/15s" {
		t.Errorf("default behavior = %q", got)
	}
}
