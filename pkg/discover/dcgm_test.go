package discover

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
)

func TestManagedDCGMFindsGKEsExporterPods(t *testing.T) {
	ctx := context.Background()
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{clusterPodMonitoringGVR: "ClusterPodMonitoringList"})
	if got, err := ManagedDCGM(ctx, fake.NewClientset(), dyn); err != nil || got {
		t.Fatalf("empty cluster: %v, %v", got, err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "dcgm-exporter-x", Namespace: ManagedDCGMNamespace,
		Labels: map[string]string{"app.kubernetes.io/name": "gke-managed-dcgm-exporter"}}}
	if got, err := ManagedDCGM(ctx, fake.NewClientset(pod), dyn); err != nil || !got {
		t.Fatalf("with GKE's exporter pod: %v, %v", got, err)
	}
}

// GKE's managed DCGM is found by its DaemonSet's or ClusterPodMonitoring's
// name even when the label differs.
func TestManagedDCGMFindsGKEsObjectsByName(t *testing.T) {
	ctx := context.Background()
	scheme := runtime.NewScheme()
	lists := map[schema.GroupVersionResource]string{clusterPodMonitoringGVR: "ClusterPodMonitoringList"}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: ManagedDCGMDaemonSet, Namespace: ManagedDCGMNamespace}}
	if got, err := ManagedDCGM(ctx, fake.NewClientset(ds), dynfake.NewSimpleDynamicClientWithCustomListKinds(scheme, lists)); err != nil || !got {
		t.Errorf("with GKE's DaemonSet: %v, %v", got, err)
	}
	cpm := &unstructured.Unstructured{}
	cpm.SetAPIVersion("monitoring.googleapis.com/v1")
	cpm.SetKind("ClusterPodMonitoring")
	cpm.SetName(ManagedDCGMClusterPodMonitoring)
	if got, err := ManagedDCGM(ctx, fake.NewClientset(), dynfake.NewSimpleDynamicClientWithCustomListKinds(scheme, lists, cpm)); err != nil || !got {
		t.Errorf("with GKE's ClusterPodMonitoring: %v, %v", got, err)
	}
}
