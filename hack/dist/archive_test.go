package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var testMembers = []Member{
	{Name: "kubectl-infer_hpa", Mode: 0o755, Data: []byte("binary")},
	{Name: "LICENSE", Mode: 0o644, Data: []byte("license text")},
}

func TestArchiveIsDeterministicAndNormalised(t *testing.T) {
	mtime := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))
	for _, name := range []string{"x.tar.gz", "x.zip"} {
		a, err := Archive(name, testMembers, mtime)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Archive(name, testMembers, mtime.UTC())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two archives of the same members differ", name)
		}
		got := readArchive(t, name, a)
		if len(got) != len(testMembers) {
			t.Fatalf("%s: %d members, want %d", name, len(got), len(testMembers))
		}
		for i, m := range testMembers {
			g := got[i]
			if g.name != m.Name || g.mode != int64(m.Mode) || !g.mtime.Equal(mtime) || g.data != string(m.Data) || g.uid != 0 || g.owner != "" {
				t.Errorf("%s member %d = %+v, want %s mode %o at %s owned by uid 0 without a name", name, i, g, m.Name, m.Mode, mtime)
			}
		}
	}
	if _, err := Archive("x.rar", testMembers, mtime); err == nil {
		t.Error("Archive(x.rar) did not fail")
	}
}

type member struct {
	name, data, owner string
	mode              int64
	uid               int
	mtime             time.Time
}

func readArchive(t *testing.T, name string, data []byte) []member {
	t.Helper()
	var out []member
	if filepath.Ext(name) == ".zip" {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			out = append(out, member{name: f.Name, data: string(b), mode: int64(f.Mode().Perm()), mtime: f.Modified})
		}
		return out
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if !gz.ModTime.IsZero() || gz.Name != "" {
		t.Errorf("gzip header carries time %v or name %q", gz.ModTime, gz.Name)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out = append(out, member{name: h.Name, data: string(b), owner: h.Uname + h.Gname, mode: h.Mode, uid: h.Uid + h.Gid, mtime: h.ModTime})
	}
}

// TestRunSkipBuildIgnoresFileMetadata archives the same binaries twice, the
// second time with other mtimes and modes, and wants identical bytes.
func TestRunSkipBuildIgnoresFileMetadata(t *testing.T) {
	root := t.TempDir()
	must(t, os.WriteFile(filepath.Join(root, "LICENSE"), []byte("license"), 0o644))
	must(t, os.MkdirAll(filepath.Join(root, "completion"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "completion", CompletionName), []byte("#!/bin/sh\n"), 0o755))
	platforms, err := ParsePlatforms("linux/amd64,windows/arm64")
	must(t, err)
	var sums [2][]byte
	for i, mode := range []os.FileMode{0o755, 0o700} {
		out := filepath.Join(t.TempDir(), "dist")
		for _, p := range platforms {
			bin := filepath.Join(out, "bin", p.OS+"_"+p.Arch, p.Exe())
			must(t, os.MkdirAll(filepath.Dir(bin), 0o755))
			must(t, os.WriteFile(bin, []byte("binary "+p.String()), mode))
			stamp := time.Now().Add(time.Duration(i) * time.Hour)
			must(t, os.Chtimes(bin, stamp, stamp))
		}
		o := &Options{Version: "v1.2.3", Commit: "abc", Date: time.Unix(1700000000, 0), OutDir: out, RootDir: root, Platforms: platforms, SkipBuild: true}
		must(t, o.Validate())
		must(t, o.Run(io.Discard))
		sums[i], err = os.ReadFile(filepath.Join(out, ChecksumsName))
		must(t, err)
		tgz, err := os.ReadFile(filepath.Join(out, "kubectl-infer_hpa_v1.2.3_linux_amd64.tar.gz"))
		must(t, err)
		if got := readArchive(t, ".tar.gz", tgz); len(got) != 3 || got[2].name != CompletionName {
			t.Errorf("linux archive members = %+v, want the binary, LICENSE and %s", got, CompletionName)
		}
	}
	if !bytes.Equal(sums[0], sums[1]) {
		t.Errorf("checksums differ between runs:\n%s\n%s", sums[0], sums[1])
	}
}

func TestValidate(t *testing.T) {
	for _, v := range []string{"0.1.0", "v1", "v1.2", "v01.2.3"} {
		o := &Options{Version: v, Commit: "abc", Date: time.Unix(1, 0)}
		if err := o.Validate(); err == nil {
			t.Errorf("version %q accepted", v)
		}
	}
	if _, err := ParsePlatforms("linux"); err == nil {
		t.Error("platform without arch accepted")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
