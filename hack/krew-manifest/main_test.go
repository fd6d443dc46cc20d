package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestWrap(t *testing.T) {
	in := "one two three four five six\n\n  kept   as is, even if it is long\nseven"
	want := "one two\nthree four\nfive six\n\n  kept   as is, even if it is long\nseven\n"
	if got := Wrap(in, 10); got != want {
		t.Errorf("Wrap:\n%q\nwant\n%q", got, want)
	}
}

func writeTarGz(t *testing.T, path string, names ...string) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o755, Size: 1, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte("x"))
	}
	tw.Close()
	gz.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeZip(t *testing.T, path string, names ...string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, _ := zw.Create(n)
		w.Write([]byte("x"))
	}
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRenderFromDist(t *testing.T) {
	dir := t.TempDir()
	writeTarGz(t, filepath.Join(dir, "kubectl-infer_hpa_v1.2.3_linux_amd64.tar.gz"), "kubectl-infer_hpa", "LICENSE", "kubectl_complete-infer_hpa")
	writeZip(t, filepath.Join(dir, "kubectl-infer_hpa_v1.2.3_windows_arm64.zip"), "kubectl-infer_hpa.exe", "LICENSE")
	writeZip(t, filepath.Join(dir, "kubectl-infer_hpa_v1.2.2_windows_amd64.zip"), "kubectl-infer_hpa.exe", "LICENSE") // another version: ignored
	os.WriteFile(filepath.Join(dir, "checksums.txt"), []byte("ignored"), 0o644)

	platforms, err := ScanDist(dir, "v1.2.3", "https://example.invalid/dl/v1.2.3/")
	if err != nil {
		t.Fatal(err)
	}
	data, err := Render("v1.2.3", platforms)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct{ Name string }
		Spec       struct {
			Version          string `json:"version"`
			Homepage         string `json:"homepage"`
			ShortDescription string `json:"shortDescription"`
			Description      string `json:"description"`
			Caveats          string `json:"caveats"`
			Platforms        []struct {
				Selector struct {
					MatchLabels map[string]string `json:"matchLabels"`
				} `json:"selector"`
				URI    string `json:"uri"`
				Sha256 string `json:"sha256"`
				Bin    string `json:"bin"`
				Files  []struct{ From, To string }
			} `json:"platforms"`
		} `json:"spec"`
	}
	if err := yaml.UnmarshalStrict(data, &m); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if m.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || m.Kind != "Plugin" || m.Metadata.Name != "infer-hpa" || m.Spec.Version != "v1.2.3" || !strings.HasPrefix(m.Spec.Homepage, "https://") {
		t.Errorf("header = %s %s %s %s", m.APIVersion, m.Kind, m.Metadata.Name, m.Spec.Version)
	}
	if !strings.Contains(m.Spec.Caveats, "Managed Prometheus") || !strings.Contains(m.Spec.Caveats, "kubectl_complete-infer_hpa") {
		t.Errorf("caveats miss the requirements or the completion setup:\n%s", m.Spec.Caveats)
	}
	if len(m.Spec.Platforms) != 2 {
		t.Fatalf("%d platforms, want 2:\n%s", len(m.Spec.Platforms), data)
	}
	linux, windows := m.Spec.Platforms[0], m.Spec.Platforms[1]
	raw, _ := os.ReadFile(filepath.Join(dir, "kubectl-infer_hpa_v1.2.3_linux_amd64.tar.gz"))
	sum := sha256.Sum256(raw)
	if linux.Sha256 != hex.EncodeToString(sum[:]) || linux.URI != "https://example.invalid/dl/v1.2.3/kubectl-infer_hpa_v1.2.3_linux_amd64.tar.gz" ||
		linux.Bin != "kubectl-infer_hpa" || len(linux.Files) != 3 || linux.Selector.MatchLabels["os"] != "linux" {
		t.Errorf("linux platform = %+v", linux)
	}
	if windows.Bin != "kubectl-infer_hpa.exe" || len(windows.Files) != 2 || windows.Selector.MatchLabels["arch"] != "arm64" {
		t.Errorf("windows platform = %+v", windows)
	}
}

func TestCheckRejects(t *testing.T) {
	long := "spec:\n  description: |\n    " + strings.Repeat("x", 80) + "\n"
	for name, manifest := range map[string]string{
		"long line":        long,
		"long short desc":  "spec:\n  shortDescription: " + strings.Repeat("x", 51) + "\n",
		"upper-case sha":   "spec:\n  platforms:\n  - sha256: " + strings.Repeat("A", 64) + "\n",
		"overlapping arch": "spec:\n  platforms:\n  - selector: {matchLabels: {os: linux, arch: amd64}}\n    sha256: " + strings.Repeat("a", 64) + "\n  - selector: {matchLabels: {os: linux, arch: amd64}}\n    sha256: " + strings.Repeat("a", 64) + "\n",
	} {
		if err := Check([]byte(manifest)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := Render("v1.0.0", nil); err == nil {
		t.Error("Render without archives did not fail")
	}
}
