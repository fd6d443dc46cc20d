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

func node(name string, metadataServer, cordoned bool, taints ...corev1.Taint) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
	if metadataServer {
		n.Labels[kustomize.MetadataServerNodeLabel] = "true"
	}
	n.Spec.Unschedulable = cordoned
	n.Spec.Taints = taints
	return n
}

// The adapter's nodeSelector needs a schedulable metadata-server node.
func TestCheckAdapterNodes(t *testing.T) {
	gpu := corev1.Taint{Key: "nvidia.com/gpu", Value: "present", Effect: corev1.TaintEffectNoSchedule}
	other := corev1.Taint{Key: "dedicated", Value: "batch", Effect: corev1.TaintEffectNoSchedule}
	cases := []struct {
		name   string
		nodes  []*corev1.Node
		nodesF string
		ok     bool
		detail string
	}{
		{"none labelled", []*corev1.Node{node("a", false, false)}, kustomize.AdapterNodesMetadataServer, false, "no node is labelled"},
		{"only cordoned", []*corev1.Node{node("a", true, true), node("b", false, false)}, kustomize.AdapterNodesMetadataServer, false, "cordoned (1)"},
		{"only tainted", []*corev1.Node{node("a", true, false, other)}, kustomize.AdapterNodesMetadataServer, false, "tainted against the adapter (1)"},
		{"gpu node tolerated", []*corev1.Node{node("g", true, false, gpu)}, kustomize.AdapterNodesMetadataServer, true, "node g"},
		{"one good", []*corev1.Node{node("a", true, true), node("b", true, false)}, kustomize.AdapterNodesMetadataServer, true, "node b"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kube := fake.NewSimpleClientset()
			for _, n := range tc.nodes {
				if _, err := kube.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			o := kustomize.NewOptions()
			o.AdapterNodes = tc.nodesF
			r := &Result{}
			checkAdapterNodes(context.Background(), cluster.Env{Kube: kube}, Input{Options: o}, r)
			if len(r.Checks) != 1 {
				t.Fatalf("%d checks", len(r.Checks))
			}
			c := r.Checks[0]
			if c.OK != tc.ok || !strings.Contains(c.Detail, tc.detail) {
				t.Errorf("got ok=%v %q, want ok=%v containing %q", c.OK, c.Detail, tc.ok, tc.detail)
			}
			if !c.OK && (!strings.Contains(c.Fix, "--workload-metadata=GKE_METADATA") || !strings.Contains(c.Fix, "--adapter-nodes any")) {
				t.Errorf("fix %q", c.Fix)
			}
		})
	}
	// --adapter-nodes any: no selector, nothing to check.
	o := kustomize.NewOptions()
	o.AdapterNodes = kustomize.AdapterNodesAny
	r := &Result{}
	checkAdapterNodes(context.Background(), cluster.Env{Kube: fake.NewSimpleClientset()}, Input{Options: o}, r)
	if len(r.Checks) != 0 {
		t.Errorf("--adapter-nodes any: %+v", r.Checks)
	}
}
