// Package watch keeps a live, read-only picture of one HorizontalPodAutoscaler
// and everything around it — its scale target, the target's pods, Events about
// them, the custom-metrics adapter's log and the per-pod values of the HPA's
// metrics — and hands it out as plain snapshots. It has no UI code: the TUI
// and the plain printer only read Snapshot values.
package watch

import "time"

// Snapshot is an immutable picture of the watched world at Time. Every slice
// in it is a copy; readers may keep it.
type Snapshot struct {
	Time      time.Time
	Started   time.Time
	Context   string
	Namespace string

	HPA      *HPAInfo
	HPAError string

	Deployment      *DeploymentInfo
	DeploymentError string

	Pods      []PodInfo
	PodsError string

	// Events about the HPA and its Deployment, newest first.
	Events      []EventInfo
	EventsError string

	// Metrics has one entry per HPA spec metric, in spec order.
	Metrics      []MetricInfo
	MetricsError string

	// Logs holds the newest adapter log lines, oldest first.
	Logs         []LogLine
	LogsError    string
	AdapterPods  []PodInfo
	AdapterError string
	// NoAdapter says why there is no adapter to show (the native path);
	// empty on the adapter path.
	NoAdapter string

	History History
}

// HPAInfo is what the screen shows of the HPA itself.
type HPAInfo struct {
	Name            string
	TargetKind      string
	TargetName      string
	MinReplicas     int32
	MaxReplicas     int32
	CurrentReplicas int32
	DesiredReplicas int32
	Conditions      []Condition
	LastScaleTime   time.Time
	// LastScaleReason is the message of the newest SuccessfulRescale event,
	// which says why the HPA last changed the size.
	LastScaleReason string
	// Behavior summarises spec.behavior with the controller's defaults filled in.
	Behavior string
}

// Condition is one HPA status condition.
type Condition struct {
	Type    string
	Status  string
	Reason  string
	Message string
	Since   time.Time
}

// DeploymentInfo is the scale target's status.
type DeploymentInfo struct {
	Name              string
	Replicas          int32
	ReadyReplicas     int32
	UpdatedReplicas   int32
	AvailableReplicas int32
}

// PodInfo is one row of the pods table.
type PodInfo struct {
	Name     string
	Phase    string
	Ready    string // "1/1"
	IsReady  bool
	Created  time.Time
	Node     string
	Restarts int32
	// LastTermination is the reason of the last container termination
	// (for example OOMKilled), empty when there was none.
	LastTermination string
}

// EventInfo is one Kubernetes Event about the HPA or its Deployment.
type EventInfo struct {
	UID     string
	Time    time.Time
	Type    string // Normal or Warning
	Reason  string
	Object  string // Kind/name
	Message string
	Count   int32
}

// MetricInfo is one HPA metric: its target, the HPA's current reading and the
// values the custom metrics API reports per pod.
type MetricInfo struct {
	// Name is the metric's name as the HPA spec gives it (for Resource
	// metrics, the resource name).
	Name string
	// Type is the HPA metric source type: Pods, Resource, Object, External, ContainerResource.
	Type string
	// TargetType is AverageValue, Value or Utilization.
	TargetType string
	Target     float64
	HasCurrent bool
	Current    float64
	// PerPod maps pod name to the value the custom metrics API reported.
	PerPod map[string]float64
	// Error says why the metric has no current value (from the HPA's
	// conditions or the metrics API), empty when it is fine.
	Error string
}

// LogLine is one line of an adapter pod's log.
type LogLine struct {
	Seq   uint64
	Time  time.Time
	Pod   string
	Text  string
	Error bool
}

// History holds bounded time series for the charts.
type History struct {
	Replicas []ReplicaPoint
	// Metrics maps MetricInfo.Name to its series.
	Metrics map[string][]MetricPoint
}

// ReplicaPoint is one sample of the HPA's replica counts.
type ReplicaPoint struct {
	Time    time.Time
	Current int32
	Desired int32
}

// MetricPoint is one sample of a metric against its target.
type MetricPoint struct {
	Time   time.Time
	Value  float64
	Target float64
}
