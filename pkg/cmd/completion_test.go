package cmd

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
)

func runRoot(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Execute(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, args)
	return out.String() + errOut.String(), code
}

func TestCompletionScripts(t *testing.T) {
	for shell, want := range map[string]string{
		"bash": "__start_kubectl-infer_hpa",
		"zsh":  "#compdef kubectl-infer_hpa",
		"fish": "complete -c kubectl-infer_hpa",
	} {
		out, code := runRoot(t, "completion", shell)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("completion %s: exit %d, want a script containing %q, got:\n%.300s", shell, code, want, out)
		}
	}
}

func TestCompletionHelpNamesThePlugin(t *testing.T) {
	out, code := runRoot(t, "completion", "--help")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, want := range []string{"kubectl infer-hpa completion [command]", "kubectl_complete-infer_hpa", "bash", "zsh", "fish"} {
		if !strings.Contains(out, want) {
			t.Errorf("completion --help does not mention %q:\n%s", want, out)
		}
	}
}

// TestCompleteVerbs is what kubectl_complete-infer_hpa asks for when a user
// types `kubectl infer-hpa <TAB>`.
func TestCompleteVerbs(t *testing.T) {
	out, code := runRoot(t, "__complete", "")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, want := range []string{"\ncompletion\t", "\nversion\t"} {
		if !strings.Contains("\n"+out, want) {
			t.Errorf("__complete \"\" does not offer %q:\n%s", strings.TrimSpace(want), out)
		}
	}
	out, _ = runRoot(t, "__complete", "completion", "")
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if !strings.Contains(out, shell) {
			t.Errorf("__complete completion \"\" does not offer %s:\n%s", shell, out)
		}
	}
}

func TestCompleteNames(t *testing.T) {
	cs := fake.NewClientset(
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "vllm-gemma-deployment", Namespace: "default"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "vllm-llama", Namespace: "default"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "vllm-other-ns", Namespace: "llm"}},
		&autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "vllm-gemma-deployment", Namespace: "default"}},
		&autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "vllm-hpa", Namespace: "default"}},
	)
	got := completeNames(context.Background(), cs, "default", "vllm", listHPAs, listDeployments)
	want := []string{"vllm-gemma-deployment", "vllm-hpa", "vllm-llama"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("completeNames = %v, want %v (sorted, de-duplicated, this namespace only)", got, want)
	}
	if got := completeNames(context.Background(), cs, "default", "w", listDeployments); !reflect.DeepEqual(got, []string{"web"}) {
		t.Errorf("completeNames(w) = %v", got)
	}
}

// cleanup [HPA] completes the inventories: our parents only, by HPA name.
func TestCompleteInventories(t *testing.T) {
	parent := func(name, tooling string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default",
			Labels: map[string]string{apply.LabelID: "x"}, Annotations: map[string]string{apply.AnnotationTooling: tooling}}}
	}
	cs := fake.NewClientset(parent("infer-hpa-vllm", apply.Tooling), parent("infer-hpa-web", apply.Tooling),
		parent("someone-elses", "kubectl/v1"), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "infer-hpa-plain", Namespace: "default"}})
	if got := completeNames(context.Background(), cs, "default", "", listInventories); !reflect.DeepEqual(got, []string{"vllm", "web"}) {
		t.Errorf("inventories = %v, want [vllm web]", got)
	}
}
