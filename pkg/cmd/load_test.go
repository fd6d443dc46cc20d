package cmd

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/load/loadtest"
)

func runPlugin(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	kubeconfig := filepath.Join(t.TempDir(), "none")
	cf := genericclioptions.NewConfigFlags(false)
	cf.KubeConfig = &kubeconfig
	code := ExecuteCmd(NewRootCmdWithFlags(streams, cf), streams, args)
	return out.String(), errOut.String(), code
}

// TestLoadURL runs the verb against the loopback fake server: the table
// and the JSON summary.
func TestLoadURL(t *testing.T) {
	s := &loadtest.Server{}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, errOut, code := runPlugin(t, "load", "--url", s.URL()+"/v1", "--stages", "2x300ms,0x100ms,4x300ms", "--output-tokens", "4")
	if code != 0 || !strings.Contains(out, "STAGE") || !strings.Contains(out, "c=4") || !strings.Contains(errOut, "model fake-model") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = runPlugin(t, "load", "--url", s.URL(), "--requests", "30", "--concurrency", "3", "--chat", "-o", "json")
	var rep struct {
		Model  string `json:"model"`
		Stages []struct {
			Requests int `json:"requests"`
			OK       int `json:"ok"`
		} `json:"stages"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Model != "fake-model" || rep.Stages[0].OK != 30 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	prompts := filepath.Join(t.TempDir(), "p.jsonl")
	_ = os.WriteFile(prompts, []byte("{\"prompt\": \"hi\", \"max_tokens\": 3}\n"), 0o644)
	if _, errOut, code = runPlugin(t, "load", "--url", s.URL(), "--requests", "5", "--prompts", prompts); code != 0 {
		t.Fatalf("--prompts: exit %d: %s", code, errOut)
	}
}

// TestLoadBadInput: one-line errors, exit 1, no request sent.
func TestLoadBadInput(t *testing.T) {
	s := &loadtest.Server{}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>")) }))
	defer web.Close()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--stages", "3x"}, `--stages: step "3x" is not CONCURRENCYxDURATION`},
		{[]string{"--rate", "-1", "--duration", "1m"}, "--rate must be a positive number"},
		{[]string{"--rate", "0", "--duration", "1m"}, "--rate must be a positive number"},
		{[]string{"--concurrency", "2"}, "the run needs an end"},
		{[]string{"--concurrency", "0", "--duration", "1m"}, "--concurrency must be at least 1"},
		{[]string{"--stages", "2x1m", "--duration", "1m"}, "--stages sets concurrency and duration"},
		{[]string{"--rate", "3", "--concurrency", "2", "--duration", "1m"}, "exclude each other"},
		{[]string{"--prompt-tokens", "many", "--duration", "1m"}, "--prompt-tokens"},
		{[]string{"--prompts", "/nonexistent.jsonl", "--duration", "1m"}, "--prompts"},
		{[]string{"--duration", "1m", "-o", "yaml"}, "--output \"yaml\" is not supported"},
		{[]string{"--duration", "1m", "--model", "llama"}, `model "llama" is not served by`},
	} {
		args := append([]string{"load", "--url", s.URL()}, c.args...)
		out, errOut, code := runPlugin(t, args...)
		if code != 1 || !strings.Contains(errOut, c.want) || strings.Count(errOut, "\n") != 1 || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want one line with %q", c.args, code, out, errOut, c.want)
		}
	}
	if n := s.Requests.Load(); n != 0 {
		t.Errorf("bad input sent %d requests", n)
	}
	_, errOut, code := runPlugin(t, "load", "--url", web.URL, "--duration", "1m")
	if code != 1 || !strings.Contains(errOut, "does not look like an OpenAI-compatible server") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("non-OpenAI endpoint: exit %d: %q", code, errOut)
	}
	_, errOut, code = runPlugin(t, "load", "--url", "localhost:8000", "--duration", "1m")
	if code != 1 || !strings.Contains(errOut, "is not an http(s) URL") {
		t.Errorf("bad --url: exit %d: %q", code, errOut)
	}
}

// TestTuneBadInput: flags are checked before the cluster is contacted.
func TestTuneBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--slo", "ttft=fast"}, `--slo "ttft=fast": "fast" is not a positive duration`},
		{[]string{"--slo", "tpot-p90=1s"}, `unknown metric "tpot"`},
		{[]string{"--start", "0"}, "--start must be at least 1"},
		{[]string{"--max-concurrency", "2", "--start", "4"}, "--max-concurrency 2 is below --start 4"},
		{[]string{"--stage-duration", "1m", "--max-duration", "30s"}, "--max-duration 30s is shorter than one step"},
		{[]string{"--output-tokens", "0"}, "--output-tokens"},
	} {
		out, errOut, code := runPlugin(t, append([]string{"tune"}, c.args...)...)
		if code != 1 || !strings.Contains(errOut, c.want) || strings.Count(errOut, "\n") != 1 || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want one line with %q", c.args, code, out, errOut, c.want)
		}
	}
}
