package apply

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/infer-hpa/kubectl-infer-hpa/test/kubefake"
)

func TestApplySetIDMatchesKubectl(t *testing.T) {
	// kubectl's own test value for Secret my-set in namespace test
	// (k8s.io/kubectl pkg/cmd/apply/apply_test.go, TestApplySetInvalidLiveParent).
	if got, want := applySetID("my-set", "test", "Secret", ""), "applyset-0eFHV8ySqp7XoShsGvyWFQD3s96yqwHmzc4e0HR1dsY-v1"; got != want {
		t.Fatalf("id = %s, want %s", got, want)
	}
	s := ForHPA("default", "vllm")
	if s.Name != "infer-hpa-vllm" || s.ID() != applySetID("infer-hpa-vllm", "default", "ConfigMap", "") {
		t.Fatalf("ForHPA = %+v id %s", s, s.ID())
	}
}

func TestParentAnnotations(t *testing.T) {
	s := ForHPA("default", "vllm")
	p := s.Parent([]schema.GroupKind{{Group: "apps", Kind: "Deployment"}, {Kind: "Namespace"}, {Group: "apps", Kind: "Deployment"}},
		[]string{"kube-system", "default", "custom-metrics"})
	a := p.GetAnnotations()
	if a[AnnotationGroupKinds] != "Deployment.apps,Namespace" {
		t.Errorf("group kinds = %q", a[AnnotationGroupKinds])
	}
	if a[AnnotationNamespaces] != "custom-metrics,kube-system" {
		t.Errorf("namespaces = %q", a[AnnotationNamespaces])
	}
	if a[AnnotationTooling] != "kubectl-infer-hpa/v1" || p.GetLabels()[LabelID] != s.ID() {
		t.Errorf("parent = %v", p.Object)
	}
	gks := ParseGroupKinds(a[AnnotationGroupKinds])
	if len(gks) != 2 || gks[0] != (schema.GroupKind{Group: "apps", Kind: "Deployment"}) || gks[1] != (schema.GroupKind{Kind: "Namespace"}) {
		t.Errorf("parsed = %v", gks)
	}
}

func obj(t *testing.T, js string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIsSubset(t *testing.T) {
	live := obj(t, `{"metadata":{"name":"a","labels":{"x":"1","y":"2"},"resourceVersion":"5"},
		"spec":{"replicas":3,"ports":[{"port":443,"protocol":"TCP"}],"target":"800m","list":["a","b"]}}`)
	cases := []struct {
		name    string
		desired string
		want    bool
	}{
		{"subset of maps", `{"metadata":{"labels":{"x":"1"}}}`, true},
		{"int vs float", `{"spec":{"replicas":3.0}}`, true},
		{"other number", `{"spec":{"replicas":4}}`, false},
		{"list element subset", `{"spec":{"ports":[{"port":443}]}}`, true},
		{"list length differs", `{"spec":{"ports":[{"port":443},{"port":80}]}}`, false},
		{"list order matters", `{"spec":{"list":["b","a"]}}`, false},
		{"quantity canonical form", `{"spec":{"target":"0.8"}}`, true},
		{"quantity differs", `{"spec":{"target":"0.9"}}`, false},
		{"missing key", `{"spec":{"paused":true}}`, false},
		{"label value differs", `{"metadata":{"labels":{"x":"2"}}}`, false},
		{"type differs", `{"spec":{"replicas":"3"}}`, false},
	}
	for _, c := range cases {
		if got := IsSubset(obj(t, c.desired), live); got != c.want {
			t.Errorf("%s: IsSubset = %v, want %v", c.name, got, c.want)
		}
	}
	// int64 from the unstructured decoder against float64 from JSON.
	if !IsSubset(map[string]any{"n": int64(2)}, map[string]any{"n": float64(2)}) {
		t.Error("int64(2) vs float64(2) should be equal")
	}
}

func TestStampChangesWhenAFieldIsRemoved(t *testing.T) {
	a := &unstructured.Unstructured{Object: obj(t, `{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"sa","annotations":{"iam.gke.io/gcp-service-account":"x@p.iam.gserviceaccount.com"}}}`)}
	b := &unstructured.Unstructured{Object: obj(t, `{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"sa"}}`)}
	Stamp(a)
	Stamp(b)
	// b (the annotation removed) must not look like a subset of a live a.
	if IsSubset(b.Object, a.Object) {
		t.Fatal("removing a field is invisible to the subset test despite the hash")
	}
}

func TestLevels(t *testing.T) {
	mk := func(apiVersion, kind string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(apiVersion)
		u.SetKind(kind)
		return u
	}
	objs := []*unstructured.Unstructured{
		mk("autoscaling/v2", "HorizontalPodAutoscaler"), mk("monitoring.googleapis.com/v1", "PodMonitoring"),
		mk("apiregistration.k8s.io/v1", "APIService"), mk("apps/v1", "Deployment"), mk("v1", "Service"),
		mk("v1", "Namespace"), mk("rbac.authorization.k8s.io/v1", "ClusterRole"),
	}
	var got [][]string
	for _, l := range Levels(objs) {
		var kinds []string
		for _, o := range l.Objects {
			kinds = append(kinds, o.GetKind())
		}
		got = append(got, kinds)
	}
	want := `[["Namespace","ClusterRole"],["Deployment","Service"],["APIService"],["PodMonitoring"],["HorizontalPodAutoscaler"]]`
	if b, _ := json.Marshal(got); string(b) != want {
		t.Fatalf("levels = %s, want %s", b, want)
	}
	if deleteRank(schema.GroupKind{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}) >= deleteRank(schema.GroupKind{Kind: "Namespace"}) {
		t.Fatal("the HPA must be deleted before the namespace")
	}
}

// A *Deferred from explain ends a wait at once and is returned as is.
func TestWaitDeferred(t *testing.T) {
	c := kubefake.New(nil, kubefake.Object("apps/v1", "Deployment", "custom-metrics", "adapter", nil, map[string]any{"replicas": int64(1)}))
	a := &Applier{Clients: Clients{Dynamic: c.Dynamic, Mapper: c.Mapper}, Timeout: time.Minute}
	obj := kubefake.Object("apps/v1", "Deployment", "custom-metrics", "adapter", nil, nil)
	notReady := func(*unstructured.Unstructured) (bool, string) { return false, "not ready" }
	start := time.Now()
	err := a.waitFor(context.Background(), "x", "y", []*unstructured.Unstructured{obj}, notReady,
		func(context.Context, *unstructured.Unstructured) (string, error) {
			return "", &Deferred{Reason: "grant it"}
		}, time.Minute)
	var d *Deferred
	if !errors.As(err, &d) || d.Reason != "grant it" || time.Since(start) > 10*time.Second {
		t.Fatalf("waitFor = %v after %s", err, time.Since(start))
	}
}

// Issue 11, item 2: an APIService failing its discovery check names the
// private-cluster firewall.
func TestAvailableNamesFirewall(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"conditions": []any{
		map[string]any{"type": "Available", "status": "False", "reason": "FailedDiscoveryCheck", "message": "failing or missing response from https://10.0.0.5:443"},
	}}}}
	ok, why := Available(u)
	if ok || !strings.Contains(why, "443 and 10250") || !strings.Contains(why, "private GKE cluster") {
		t.Errorf("Available = %v %q", ok, why)
	}
}
