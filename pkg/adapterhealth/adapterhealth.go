// Package adapterhealth says why the custom-metrics-stackdriver-adapter is
// not ready, from its pods' state and the fatal line of its log. The real
// adapter lists Cloud Monitoring's metric descriptors at start-up and exits
// with `Failed request to stackdriver api: ERR` when that fails (no
// roles/monitoring.viewer: a 403), and with `Failed to retrieve GCE config`
// when the GKE metadata server cannot be reached; either way it crash-loops.
// It only reads.
package adapterhealth

import (
	"context"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
)

// The adapter's fatal messages (k8s-stackdriver custom-metrics-stackdriver-adapter/adapter.go).
const (
	FatalStackdriver = "Failed request to stackdriver api"
	FatalGCEConfig   = "Failed to retrieve GCE config"
)

// Diagnosis is what the adapter's pods say.
type Diagnosis struct {
	// Pod is the pod looked at ("" when there is none).
	Pod string
	// Waiting is the container's waiting reason (CrashLoopBackOff, ...).
	Waiting  string
	Restarts int32
	// Fatal is the adapter's fatal log line, when it exited with one.
	Fatal string
}

// Found says whether the adapter exited with one of its fatal lines.
func (d Diagnosis) Found() bool { return d.Fatal != "" }

// IAMDenied says whether the adapter exits because Google refused it:
// the role is missing, or the grant has not propagated yet.
func (d Diagnosis) IAMDenied() bool {
	if !strings.Contains(d.Fatal, FatalStackdriver) {
		return false
	}
	f := strings.ToLower(d.Fatal)
	for _, w := range []string{"error 403", "permission_denied", "permission denied", "forbidden", "denied", "iam.serviceaccounts.getaccesstoken"} {
		if strings.Contains(f, w) {
			return true
		}
	}
	return false
}

// NoMetadataServer says whether the adapter cannot reach the GKE metadata
// server (Workload Identity is not on its node).
func (d Diagnosis) NoMetadataServer() bool { return strings.Contains(d.Fatal, FatalGCEConfig) }

// String is one line: the pod, its state and the fatal line.
func (d Diagnosis) String() string {
	if d.Pod == "" {
		return "no adapter pod yet"
	}
	s := "pod " + d.Pod
	if d.Waiting != "" {
		s += " " + d.Waiting
	}
	if d.Restarts > 0 {
		s += fmt.Sprintf(" (%d restarts)", d.Restarts)
	}
	if d.Fatal != "" {
		s += ": exits with: " + d.Fatal
	}
	return s
}

// FatalLine finds the adapter's fatal line in log text (klog's
// "F1201 12:00:00.000000 1 adapter.go:153] MSG"), without the klog header.
func FatalLine(log string) (string, bool) {
	lines := strings.Split(log, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		for _, f := range []string{FatalStackdriver, FatalGCEConfig} {
			if j := strings.Index(l, f); j >= 0 {
				return l[j:], true
			}
		}
	}
	return "", false
}

// Diagnose looks at the pods that selector matches in namespace: the first
// one not ready, its container state, and the fatal line of its last run
// (the termination message, else the previous container's log).
func Diagnose(ctx context.Context, kube kubernetes.Interface, namespace string, selector map[string]string) (Diagnosis, error) {
	pods, err := kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(selector).String()})
	if err != nil {
		return Diagnosis{}, err
	}
	var d Diagnosis
	for i := range pods.Items {
		p := &pods.Items[i]
		if ready(p) || p.DeletionTimestamp != nil {
			continue
		}
		d = Diagnosis{Pod: p.Name}
		for _, cs := range p.Status.ContainerStatuses {
			d.Restarts = cs.RestartCount
			if cs.State.Waiting != nil {
				d.Waiting = cs.State.Waiting.Reason
			}
			if t := cs.LastTerminationState.Terminated; t != nil {
				if l, ok := FatalLine(t.Message); ok {
					d.Fatal = l
				}
			}
			if d.Fatal == "" && cs.RestartCount > 0 {
				d.Fatal = previousFatal(ctx, kube, p, cs.Name)
			}
			if d.Fatal != "" {
				return d, nil
			}
		}
		if d.Restarts > 0 || d.Waiting != "" {
			return d, nil
		}
	}
	return d, nil
}

func previousFatal(ctx context.Context, kube kubernetes.Interface, p *corev1.Pod, container string) string {
	tail := int64(50)
	rc, err := kube.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: container, Previous: true, TailLines: &tail}).Stream(ctx)
	if err != nil {
		return ""
	}
	defer func() { _ = rc.Close() }()
	b, _ := io.ReadAll(io.LimitReader(rc, 64<<10))
	l, _ := FatalLine(string(b))
	return l
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
