// Package twinrun lets tests of the plugin's own module run against the
// local GKE twin (test/twin) without importing it: the twin is a separate Go
// module with k8s.io/kubernetes in its build list, so it is used through its
// prebuilt `twin` binary (hack/build-twin.sh builds it).
//
// In a test package's TestMain:
//
//	func TestMain(m *testing.M) { twinrun.Main(m) }
//
// and in the tests, twinrun.Kubeconfig() and twinrun.Context() name the
// running twin (cluster admin; context gke_twin-project_us-central1_twin).
package twinrun

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Environment the `twin exec` command sets for the program it runs.
const (
	EnvKubeconfig = "INFER_HPA_TWIN_KUBECONFIG"
	EnvContext    = "INFER_HPA_TWIN_CONTEXT"
	// EnvBinDir names the folder with the twin binaries (hack/build-twin.sh
	// prints it); without it test/twin/.bin is looked for upwards.
	EnvBinDir = "INFER_HPA_TWIN_BIN"
)

// Main runs the tests against a twin. Outside one, it re-runs this test
// binary under `twin exec` (which starts a twin — as root in a network
// namespace of its own with only lo — sets the variables above, and stops
// the twin afterwards) and exits with its code. Inside, it runs m.
func Main(m *testing.M) { MainWith(m) }

// MainWith is Main with flags for `twin exec`, e.g. "--metrics" (the
// Managed Prometheus emulation, the local Cloud Monitoring, and the real
// Stackdriver adapter for the pods of the adapter Deployment the test
// applies; implies the local Google API server, whose endpoints arrive as
// CLOUDSDK_API_ENDPOINT_OVERRIDES_*),
// "--simulate", "--hpa-sync-period=2s".
func MainWith(m *testing.M, twinFlags ...string) {
	if Kubeconfig() != "" {
		os.Exit(m.Run())
	}
	bin, err := Binary()
	if err != nil {
		fmt.Fprintln(os.Stderr, "twinrun:", err)
		os.Exit(1)
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "twinrun:", err)
		os.Exit(1)
	}
	args := append(append([]string{"exec"}, twinFlags...), "--", exe)
	cmd := exec.Command(bin, append(args, os.Args[1:]...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		os.Exit(exit.ExitCode())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "twinrun:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Kubeconfig is the running twin's admin kubeconfig, or "" outside a twin.
func Kubeconfig() string { return os.Getenv(EnvKubeconfig) }

// Context is the running twin's kubeconfig context.
func Context() string { return os.Getenv(EnvContext) }

// Binary finds the `twin` binary: $INFER_HPA_TWIN_BIN/twin, else
// test/twin/.bin/twin in the working directory or a parent.
func Binary() (string, error) {
	if d := os.Getenv(EnvBinDir); d != "" {
		p := filepath.Join(d, "twin")
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s has no twin binary; run hack/build-twin.sh", EnvBinDir, d)
		}
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "test", "twin", ".bin", "twin")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no test/twin/.bin/twin found upwards; run hack/build-twin.sh or set %s", EnvBinDir)
		}
		dir = parent
	}
}
