package twinrun

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBinaryFromEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvBinDir, dir)
	if _, err := Binary(); err == nil || !strings.Contains(err.Error(), "hack/build-twin.sh") {
		t.Errorf("empty bin dir: err = %v, want a hint to hack/build-twin.sh", err)
	}
	want := filepath.Join(dir, "twin")
	if err := os.WriteFile(want, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := Binary(); err != nil || got != want {
		t.Errorf("Binary() = %q, %v; want %q", got, err, want)
	}
}

func TestBinaryWalksUp(t *testing.T) {
	root := t.TempDir()
	bin := filepath.Join(root, "test", "twin", ".bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "twin"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(root, "test", "e2e", "sub")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvBinDir, "")
	t.Chdir(deep)
	if got, err := Binary(); err != nil || got != filepath.Join(bin, "twin") {
		t.Errorf("Binary() = %q, %v; want %q", got, err, filepath.Join(bin, "twin"))
	}
}
