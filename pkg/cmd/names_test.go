package cmd

import (
	"strings"
	"testing"
)

// Names derived from --deployment that overflow the apiserver's limits are
// rejected by render, setup and diff before any cluster is contacted (there
// is no kubeconfig here), naming the limit and the flag to set.
func TestLongDerivedNamesRejected(t *testing.T) {
	cases := []struct {
		name       string
		deployment string
		extra      []string
		want       []string
	}{
		{"deployment over 253", strings.Repeat("a", 254), nil, []string{"--deployment", "253"}},
		{"ApplySet parent over 253", strings.Repeat("a", 250), nil, []string{"--hpa-name", "at most 243", "253"}},
		{"given hpa name too long for the parent", "vllm", []string{"--hpa-name", strings.Repeat("h", 250)}, []string{"--hpa-name", "at most 243"}},
		{"PodMonitoring over 253", strings.Repeat("a", 250), []string{"--hpa-name", "vllm"}, []string{"--podmonitoring-name", "253"}},
		{"pod label over 63", strings.Repeat("a", 64), nil, []string{"--pod-label", "63"}},
	}
	for _, tc := range cases {
		for _, verb := range []string{"render", "setup", "diff"} {
			t.Run(tc.name+"/"+verb, func(t *testing.T) {
				args := append([]string{verb, "--deployment", tc.deployment}, tc.extra...)
				code, stdout, stderr := run(t, args...)
				if code == 0 {
					t.Fatalf("exit 0, stdout %q", stdout)
				}
				if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
					t.Errorf("not one line: %q", stderr)
				}
				for _, w := range tc.want {
					if !strings.Contains(stderr, w) {
						t.Errorf("stderr %q does not name %q", stderr, w)
					}
				}
				if strings.Contains(stderr, "kubeconfig") || strings.Contains(stderr, "cluster") {
					t.Errorf("contacted (or tried) a cluster: %q", stderr)
				}
			})
		}
	}
	// At the limits everything renders.
	if code, _, stderr := run(t, "render", "--deployment", strings.Repeat("a", 63)); code != 0 {
		t.Errorf("63-character deployment: %s", stderr)
	}
	if code, _, stderr := run(t, "render", "--deployment", strings.Repeat("a", 243), "--pod-label", "app=x"); code != 0 {
		t.Errorf("243-character deployment with --pod-label: %s", stderr)
	}
}
