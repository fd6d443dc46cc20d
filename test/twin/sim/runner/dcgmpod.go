package runner

import (
	"context"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/sim/dcgm"
)

const (
	gpuResource corev1.ResourceName = "nvidia.com/gpu"
	// DCGMNamespace, DCGMName and DCGMAppLabel are those of GKE's managed
	// DCGM exporter (GKE ≥ 1.32.1-gke.1357000).
	DCGMNamespace = "gke-managed-system"
	DCGMName      = "dcgm-exporter"
	DCGMAppLabel  = "gke-managed-dcgm-exporter"
	// DCGMPort is dcgm-exporter's metrics port, named "metrics".
	DCGMPort     = 9400
	appNameLabel = "app.kubernetes.io/name"
)

var (
	deleteNow        = metav1.DeleteOptions{}
	clusterPodMonGVR = schema.GroupVersionResource{Group: "monitoring.googleapis.com", Version: "v1", Resource: "clusterpodmonitorings"}
)

func isDCGMPod(pod *corev1.Pod) bool {
	return pod.Namespace == DCGMNamespace && pod.Labels[appNameLabel] == DCGMAppLabel
}

// dcgmPod is the exporter of one DCGM pod.
type dcgmPod struct {
	uid types.UID
	exp *dcgm.Exporter
}

// installDCGM creates what GKE runs for managed DCGM metrics: a DaemonSet
// on the GPU nodes and a ClusterPodMonitoring that scrapes its pods.
func installDCGM(ctx context.Context, h Host) error {
	labels := map[string]string{appNameLabel: DCGMAppLabel}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: DCGMName, Namespace: DCGMNamespace, Labels: labels},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{"cloud.google.com/gke-gpu": "true"},
					Tolerations:  []corev1.Toleration{{Key: string(gpuResource), Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
					Containers: []corev1.Container{{
						Name: "dcgm-exporter", Image: "gke.gcr.io/nvidia-dcgm-exporter:3.3.5-3.4.1-ubuntu22.04",
						Args:  []string{"--kubernetes=true", "--kubernetes-gpu-id-type=device-name"},
						Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: DCGMPort}},
					}},
				},
			},
		},
	}
	if _, err := h.Client.AppsV1().DaemonSets(DCGMNamespace).Create(ctx, ds, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("runner: create DaemonSet %s/%s: %w", DCGMNamespace, DCGMName, err)
	}
	if h.Dynamic == nil {
		return nil
	}
	cpm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "monitoring.googleapis.com/v1", "kind": "ClusterPodMonitoring",
		"metadata": map[string]any{"name": DCGMAppLabel, "labels": map[string]any{appNameLabel: DCGMAppLabel}},
		"spec": map[string]any{
			"selector":  map[string]any{"matchLabels": map[string]any{appNameLabel: DCGMAppLabel}},
			"endpoints": []any{map[string]any{"port": "metrics", "interval": "30s"}},
		},
	}}
	if _, err := h.Dynamic.Resource(clusterPodMonGVR).Create(ctx, cpm, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("runner: create ClusterPodMonitoring %s: %w", DCGMAppLabel, err)
	}
	return nil
}

// startDCGM runs the exporter of a DCGM pod's node behind its metrics port.
func (r *Runner) startDCGM(ctx context.Context, pod *corev1.Pod) error {
	node := pod.Spec.NodeName
	accel := ""
	if obj, ok, _ := r.nodes.GetIndexer().GetByKey(node); ok {
		accel = obj.(*corev1.Node).Labels["cloud.google.com/gke-accelerator"]
	}
	exp, err := dcgm.Start(dcgm.Node{Hostname: node, Accelerator: accel, Interval: r.o.DCGMInterval,
		GPUs: func() []dcgm.GPU { return r.gpus(node) }}, "127.0.0.1:0")
	if err != nil {
		return err
	}
	if err := r.h.ForwardPodPort(ctx, pod.Namespace, pod.Name, DCGMPort, exp.Addr()); err != nil {
		_ = exp.Close()
		return err
	}
	r.mu.Lock()
	r.dcgms[pod.Namespace+"/"+pod.Name] = &dcgmPod{uid: pod.UID, exp: exp}
	r.mu.Unlock()
	r.logf("DCGM exporter for node %s (pod %s/%s) on %s", node, pod.Namespace, pod.Name, exp.Addr())
	return nil
}

// sortPods orders pods by creation, then name.
func sortPods(pods []*corev1.Pod) {
	slices.SortFunc(pods, func(a, b *corev1.Pod) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}
