package preflight

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cluster"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"
)

// --dcgm self needs exporter pods our ClusterPodMonitoring selects.
func TestCheckDCGMSelf(t *testing.T) {
	ctx := context.Background()
	o := kustomize.NewOptions()
	o.DCGM = kustomize.DCGMSelf
	r := &Result{}
	checkDCGMSelf(ctx, cluster.Env{Kube: fake.NewClientset()}, Input{Options: o}, r)
	if len(r.Checks) != 1 || r.Checks[0].OK || !strings.Contains(r.Checks[0].Fix, "DCGM") {
		t.Fatalf("no exporter: %+v", r.Checks)
	}
	exporter := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "dcgm-exporter-a", Namespace: "gpu-operator",
		Labels: map[string]string{"app.kubernetes.io/name": "nvidia-dcgm-exporter"}}}
	r = &Result{}
	checkDCGMSelf(ctx, cluster.Env{Kube: fake.NewClientset(exporter)}, Input{Options: o}, r)
	if len(r.Checks) != 1 || !r.Checks[0].OK || !strings.Contains(r.Checks[0].Detail, "gpu-operator/dcgm-exporter-a") {
		t.Fatalf("with an exporter: %+v", r.Checks)
	}
	o.DCGM = kustomize.DCGMManaged
	r = &Result{}
	checkDCGMSelf(ctx, cluster.Env{Kube: fake.NewClientset()}, Input{Options: o}, r)
	if len(r.Checks) != 0 {
		t.Errorf("--dcgm managed: %+v", r.Checks)
	}
}
