package cmd

import (
	"bytes"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
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
