package kustomize_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoGoogleAPIClients keeps the renderer (and the identity leaf it shares
// with pkg/gcp) free of Google's API clients and gRPC: rendering is pure,
// and pulling them in once cost 124 packages.
func TestNoGoogleAPIClients(t *testing.T) {
	for _, pkg := range []string{".", "../identity"} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list -deps %s listed only %q", pkg, deps)
		}
		for _, dep := range deps {
			if strings.HasPrefix(dep, "google.golang.org/api") || strings.HasPrefix(dep, "google.golang.org/grpc") ||
				strings.HasSuffix(dep, "/pkg/gcp") {
				t.Errorf("%s depends on %s: keep Google API clients in pkg/gcp, and what the renderer needs in pkg/identity", pkg, dep)
			}
		}
	}
}
