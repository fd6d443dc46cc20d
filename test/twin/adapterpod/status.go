package adapterpod

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// update changes the adapter container's status (and the pod's Ready
// conditions) with a fresh read, retried on conflicts.
func (r *podRun) update(ctx context.Context, ready bool, change func(*corev1.ContainerStatus)) {
	pods := r.s.h.Client.CoreV1().Pods(r.pod.Namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod, err := pods.Get(ctx, r.pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if pod.UID != r.pod.UID || pod.DeletionTimestamp != nil {
			return nil
		}
		i := slices.IndexFunc(pod.Status.ContainerStatuses, func(cs corev1.ContainerStatus) bool { return cs.Name == r.container.Name })
		if i < 0 {
			pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{Name: r.container.Name, Image: r.container.Image})
			i = len(pod.Status.ContainerStatuses) - 1
		}
		cs := &pod.Status.ContainerStatuses[i]
		change(cs)
		cs.Ready = ready
		cs.ImageID = "twin://" + r.container.Image
		all := true
		for _, c := range pod.Status.ContainerStatuses {
			all = all && c.Ready
		}
		now := metav1.Now()
		for _, t := range []corev1.PodConditionType{corev1.PodReady, corev1.ContainersReady} {
			status, reason := corev1.ConditionTrue, ""
			if !all {
				status, reason = corev1.ConditionFalse, "ContainersNotReady"
			}
			j := slices.IndexFunc(pod.Status.Conditions, func(c corev1.PodCondition) bool { return c.Type == t })
			if j < 0 {
				pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: t})
				j = len(pod.Status.Conditions) - 1
			}
			c := &pod.Status.Conditions[j]
			if c.Status != status {
				c.LastTransitionTime = now
			}
			c.Status, c.Reason = status, reason
			c.Message = ""
			if !all {
				c.Message = fmt.Sprintf("containers with unready status: [%s]", r.container.Name)
			}
		}
		_, err = pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	})
	if err != nil && ctx.Err() == nil {
		r.logf("status: %v", err)
	}
}

func (r *podRun) containerID(restarts int32) string {
	return fmt.Sprintf("containerd://twin-%s-%d", string(r.pod.UID)[:8], restarts)
}

func (r *podRun) running(ctx context.Context, started time.Time, restarts int32, ready bool) {
	r.update(ctx, ready, func(cs *corev1.ContainerStatus) {
		t := true
		cs.Started = &t
		cs.RestartCount = restarts
		cs.ContainerID = r.containerID(restarts)
		cs.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(started)}}
	})
}

func (r *podRun) terminated(ctx context.Context, code int, started, finished time.Time, restarts int32, backoff time.Duration) {
	reason := "Error"
	if code == 0 {
		reason = "Completed"
	}
	r.update(ctx, false, func(cs *corev1.ContainerStatus) {
		f := false
		cs.Started = &f
		cs.RestartCount = restarts
		cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: int32(code), Reason: reason, StartedAt: metav1.NewTime(started), FinishedAt: metav1.NewTime(finished),
			ContainerID: r.containerID(restarts - 1)}}
		cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
			Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", backoff, r.container.Name, r.pod.Name, r.pod.Namespace, r.pod.UID)}}
		cs.ContainerID = ""
	})
}

func (r *podRun) setWaiting(ctx context.Context, reason, msg string) {
	r.update(ctx, false, func(cs *corev1.ContainerStatus) {
		cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
	})
}

var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// containerEnv is the container's env as a kubelet resolves it: values,
// and the downward API fields a pod commonly reads.
func containerEnv(pod *corev1.Pod, c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			out[e.Name] = envRef.ReplaceAllStringFunc(e.Value, func(m string) string {
				if v, ok := out[m[2:len(m)-1]]; ok {
					return v
				}
				return m
			})
		case e.ValueFrom.FieldRef != nil:
			switch e.ValueFrom.FieldRef.FieldPath {
			case "metadata.name":
				out[e.Name] = pod.Name
			case "metadata.namespace":
				out[e.Name] = pod.Namespace
			case "spec.nodeName":
				out[e.Name] = pod.Spec.NodeName
			case "spec.serviceAccountName":
				out[e.Name] = pod.Spec.ServiceAccountName
			case "status.podIP":
				out[e.Name] = pod.Status.PodIP
			}
		}
	}
	return out
}

// expand replaces $(VAR) in the command line, as a kubelet does.
func expand(argv []string, vars map[string]string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = envRef.ReplaceAllStringFunc(a, func(m string) string {
			if v, ok := vars[m[2:len(m)-1]]; ok {
				return v
			}
			return m
		})
	}
	return out
}

// mapVolumes points paths under the container's emptyDir mounts at the
// pod's own folders, so that each pod has its own scratch space as in a
// container.
func mapVolumes(argv []string, pod *corev1.Pod, c corev1.Container, dir string) []string {
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Spec.Volumes {
			if v.Name == m.Name && v.EmptyDir != nil {
				mounts[strings.TrimSuffix(m.MountPath, "/")] = filepath.Join(dir, v.Name)
			}
		}
	}
	out := slices.Clone(argv)
	for i, a := range out {
		for _, mp := range slices.Sorted(maps.Keys(mounts)) {
			name, val, hasVal := strings.Cut(a, "=")
			if hasVal && (val == mp || strings.HasPrefix(val, mp+"/")) {
				out[i] = name + "=" + mounts[mp] + strings.TrimPrefix(val, mp)
			} else if a == mp || strings.HasPrefix(a, mp+"/") {
				out[i] = mounts[mp] + strings.TrimPrefix(a, mp)
			}
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
