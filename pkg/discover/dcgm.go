package discover

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// GKE's managed DCGM exporter (GKE >= 1.32.1-gke.1357000).
const (
	ManagedDCGMNamespace = "gke-managed-system"
	ManagedDCGMSelector  = "app.kubernetes.io/name=gke-managed-dcgm-exporter"
)

var clusterPodMonitoringGVR = schema.GroupVersionResource{Group: "monitoring.googleapis.com", Version: "v1", Resource: "clusterpodmonitorings"}

// GKE's managed DCGM objects by name: its DaemonSet in gke-managed-system
// and its ClusterPodMonitoring.
const (
	ManagedDCGMDaemonSet            = "dcgm-exporter"
	ManagedDCGMClusterPodMonitoring = "gke-managed-dcgm-exporter"
)

// ManagedDCGM says whether GKE's managed DCGM exporter runs: its DaemonSet
// or pods in gke-managed-system, or its ClusterPodMonitoring, found by name
// as well as by label.
func ManagedDCGM(ctx context.Context, kube kubernetes.Interface, dyn dynamic.Interface) (bool, error) {
	if _, err := kube.AppsV1().DaemonSets(ManagedDCGMNamespace).Get(ctx, ManagedDCGMDaemonSet, metav1.GetOptions{}); err == nil {
		return true, nil
	}
	if dyn != nil {
		if _, err := dyn.Resource(clusterPodMonitoringGVR).Get(ctx, ManagedDCGMClusterPodMonitoring, metav1.GetOptions{}); err == nil {
			return true, nil
		}
	}
	pods, err := kube.CoreV1().Pods(ManagedDCGMNamespace).List(ctx, metav1.ListOptions{LabelSelector: ManagedDCGMSelector, Limit: 1})
	if err != nil {
		return false, fmt.Errorf("looking for GKE's managed DCGM exporter: %w", err)
	}
	if len(pods.Items) > 0 {
		return true, nil
	}
	cpms, err := dyn.Resource(clusterPodMonitoringGVR).List(ctx, metav1.ListOptions{LabelSelector: ManagedDCGMSelector, Limit: 1})
	if err != nil {
		return false, nil // no Managed Prometheus: the CRD check says so
	}
	return len(cpms.Items) > 0, nil
}
