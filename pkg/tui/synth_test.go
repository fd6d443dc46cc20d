package tui

import (
	"fmt"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/watch"
)

// The synthetic world of these tests: the tutorial's vLLM Deployment with an
// HPA on vllm:num_requests_running (target 4 per pod), scaling from 1 to 3.
var t0 = time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)

const metricName = "prometheus.googleapis.com|vllm:num_requests_running|gauge"

// scaleUp returns the snapshot at second sec of a scale-up: load arrives at
// 10 s, the HPA asks for 3 at 25 s, the pods are ready at 45 s.
func scaleUp(sec int) watch.Snapshot {
	now := t0.Add(time.Duration(sec) * time.Second)
	s := watch.Snapshot{Time: now, Started: t0, Context: "twin", Namespace: "default"}
	cur, desired := int32(1), int32(1)
	if sec >= 25 {
		desired = 3
	}
	if sec >= 45 {
		cur = 3
	}
	hpa := &watch.HPAInfo{Name: "vllm-gemma-hpa", TargetKind: "Deployment", TargetName: "vllm-gemma-deployment",
		MinReplicas: 1, MaxReplicas: 5, CurrentReplicas: cur, DesiredReplicas: desired,
		Behavior: "up: stab 0s, max(4 pods,100%)/15s; down: stab 300s, 100%/15s",
		Conditions: []watch.Condition{
			{Type: "AbleToScale", Status: "True", Reason: "ReadyForNewScale"},
			{Type: "ScalingActive", Status: "True", Reason: "ValidMetricFound"},
			{Type: "ScalingLimited", Status: "False", Reason: "DesiredWithinRange"},
		}}
	if sec >= 25 {
		hpa.Conditions[0].Reason = "SucceededRescale"
		hpa.LastScaleTime = t0.Add(25 * time.Second)
		hpa.LastScaleReason = "New size: 3; reason: pods metric " + metricName + " above target"
		s.Events = append(s.Events, watch.EventInfo{UID: "e2", Time: hpa.LastScaleTime, Type: "Normal",
			Reason: "SuccessfulRescale", Object: "HorizontalPodAutoscaler/vllm-gemma-hpa", Message: hpa.LastScaleReason, Count: 1},
			watch.EventInfo{UID: "e3", Time: hpa.LastScaleTime, Type: "Normal", Reason: "ScalingReplicaSet",
				Object: "Deployment/vllm-gemma-deployment", Message: "Scaled up replica set vllm-gemma-deployment-7d9f8b6c5d from 1 to 3", Count: 1})
	}
	s.HPA = hpa
	s.Deployment = &watch.DeploymentInfo{Name: "vllm-gemma-deployment", Replicas: cur, ReadyReplicas: cur}
	for i := 0; i < int(max(cur, desired)); i++ {
		p := watch.PodInfo{Name: fmt.Sprintf("vllm-gemma-deployment-7d9f8b6c5d-p%d", i), Phase: "Running", Ready: "1/1",
			IsReady: true, Created: t0.Add(-time.Hour), Node: "gke-gpu-pool-node-1"}
		if i > 0 {
			p.Created = t0.Add(25 * time.Second)
			if sec < 45 {
				p.Phase, p.Ready, p.IsReady = "Pending", "0/1", false
			}
		}
		s.Pods = append(s.Pods, p)
	}
	load := 0.0
	for i := 0; i <= sec; i++ {
		s.History.Replicas = append(s.History.Replicas, watch.ReplicaPoint{Time: t0.Add(time.Duration(i) * time.Second),
			Current: map[bool]int32{true: 3, false: 1}[i >= 45], Desired: map[bool]int32{true: 3, false: 1}[i >= 25]})
		load = valueAt(i)
		s.History.Metrics = map[string][]watch.MetricPoint{}
	}
	s.History.Metrics = map[string][]watch.MetricPoint{}
	for i := 0; i <= sec; i++ {
		s.History.Metrics[metricName] = append(s.History.Metrics[metricName],
			watch.MetricPoint{Time: t0.Add(time.Duration(i) * time.Second), Value: valueAt(i), Target: 4})
	}
	mi := watch.MetricInfo{Name: metricName, Type: "Pods", TargetType: "AverageValue", Target: 4, HasCurrent: true, Current: load,
		PerPod: map[string]float64{}}
	for _, p := range s.Pods {
		if p.IsReady {
			mi.PerPod[p.Name] = load
		}
	}
	s.Metrics = []watch.MetricInfo{mi}
	s.AdapterPods = []watch.PodInfo{{Name: "custom-metrics-stackdriver-adapter-5c6f7-abcde", Phase: "Running", Ready: "1/1", IsReady: true}}
	s.Logs = []watch.LogLine{
		{Seq: 1, Time: t0, Pod: s.AdapterPods[0].Name, Text: "I1126 18:00:00.000000 1 main.go:92] serving custom.metrics.k8s.io"},
	}
	return s
}

// valueAt is the average running requests per pod at second i.
func valueAt(i int) float64 {
	switch {
	case i < 10:
		return 0.5
	case i < 45:
		return 0.5 + float64(i-10)*0.25
	}
	return 3.5
}

// failingMetric is the scale-up world where the adapter cannot read Cloud
// Monitoring: no current value, ScalingActive False, a FailedGetPodsMetric
// warning and a 403 in the adapter's log.
func failingMetric() watch.Snapshot {
	s := scaleUp(5)
	s.HPA.Conditions[1] = watch.Condition{Type: "ScalingActive", Status: "False", Reason: "FailedGetPodsMetric",
		Message: "the HPA was unable to compute the replica count: unable to get metric " + metricName}
	s.Metrics[0].HasCurrent, s.Metrics[0].PerPod = false, nil
	s.Metrics[0].Error = "FailedGetPodsMetric: unable to get metric " + metricName
	s.History.Metrics = nil
	s.Events = []watch.EventInfo{{UID: "w1", Time: t0.Add(3 * time.Second), Type: "Warning", Reason: "FailedGetPodsMetric",
		Object: "HorizontalPodAutoscaler/vllm-gemma-hpa", Message: "unable to get metric " + metricName + ": no metrics returned", Count: 4}}
	s.Logs = append(s.Logs, watch.LogLine{Seq: 2, Time: t0.Add(2 * time.Second), Pod: s.AdapterPods[0].Name, Error: true,
		Text: "E1126 18:00:02.000000 1 stackdriver.go:100] googleapi: Error 403: Permission monitoring.timeSeries.list denied (or the resource may not exist)., forbidden"})
	return s
}
