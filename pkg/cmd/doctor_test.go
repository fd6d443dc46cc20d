package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/doctor"
)

func TestDoctorHelpSaysItOnlyReads(t *testing.T) {
	var out bytes.Buffer
	streams := genericiooptions.IOStreams{Out: &out, ErrOut: &out}
	if code := ExecuteCmd(NewRootCmd(streams), streams, []string{"doctor", "--help"}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"doctor only reads", "--since", "-o, --output", "Exit status: 0 no failure, 1 a failure was found, 2 doctor could not run"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

// doctor itself failing to run exits 2 with a one-line error.
func TestDoctorCannotRunExits2(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:1"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
users: [{name: u, user: {}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"doctor", "vllm", "--kubeconfig", kc},
		{"doctor", "vllm", "-o", "table", "--kubeconfig", kc},
		{"doctor", "vllm", "--since", "0s", "--kubeconfig", kc},
	} {
		var out, errOut bytes.Buffer
		streams := genericiooptions.IOStreams{Out: &out, ErrOut: &errOut}
		if code := ExecuteCmd(NewRootCmd(streams), streams, args); code != 2 {
			t.Errorf("%v: exit %d, want 2; %s", args, code, errOut.String())
		}
		if n := strings.Count(strings.TrimSpace(errOut.String()), "\n"); n != 0 || !strings.HasPrefix(errOut.String(), "error: ") {
			t.Errorf("%v: want one error line, got %q", args, errOut.String())
		}
	}
}

// A Deployment without an HPA is a failure found (exit 1), and -o json
// carries each check with id, status, message and fix.
func TestDoctorJSONAndExit1(t *testing.T) {
	kube := fake.NewClientset(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "vllm", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "vllm"}}}})
	var out bytes.Buffer
	o := &DoctorOptions{configFlags: genericclioptions.NewConfigFlags(false), IOStreams: genericiooptions.IOStreams{Out: &out, ErrOut: &out},
		Name: "vllm", Namespace: "default", Output: "json", Since: 1e9, AdapterNamespace: "custom-metrics"}
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		{Group: "monitoring.googleapis.com", Version: "v1", Resource: "podmonitorings"}:        "PodMonitoringList",
		{Group: "monitoring.googleapis.com", Version: "v1", Resource: "clusterpodmonitorings"}: "ClusterPodMonitoringList",
	})
	err := o.report(context.Background(), doctor.Env{Kube: kube, Dynamic: dyn})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 1 {
		t.Fatalf("err = %v, want exit 1", err)
	}
	var rep struct {
		Checks []struct{ ID, Status, Message, Fix string }
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	found := false
	for _, c := range rep.Checks {
		if c.ID == "hpa/target" && c.Status == "FAIL" && strings.Contains(c.Fix, "kubectl infer-hpa setup vllm -n default") {
			found = true
		}
	}
	if !found {
		t.Errorf("no FAIL hpa/target with a fix in %s", out.String())
	}
}
