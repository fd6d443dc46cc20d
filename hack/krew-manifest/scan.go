package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// binName is the plugin executable krew links into its bin directory.
const binName = "kubectl-infer_hpa"

// Platform is one entry of spec.platforms.
type Platform struct {
	OS, Arch, URI, Sha256, Bin string
	Files                      []string
}

// ScanDist finds the archives of version in dir and describes each one.
func ScanDist(dir, version, baseURL string) ([]Platform, error) {
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(binName+"_"+version+"_") + `([a-z0-9]+)_([a-z0-9]+)\.(tar\.gz|zip)$`)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("-dist %s: %w (run make dist first)", dir, err)
	}
	var out []Platform
	for _, e := range entries {
		m := re.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		files, err := members(e.Name(), data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		p := Platform{OS: m[1], Arch: m[2], URI: strings.TrimSuffix(baseURL, "/") + "/" + e.Name(), Files: files}
		sum := sha256.Sum256(data)
		p.Sha256 = hex.EncodeToString(sum[:])
		for _, f := range files {
			if strings.TrimSuffix(f, ".exe") == binName {
				p.Bin = f
			}
		}
		if p.Bin == "" {
			return nil, fmt.Errorf("%s holds no %s: rebuild it with make dist", e.Name(), binName)
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OS+"/"+out[i].Arch < out[j].OS+"/"+out[j].Arch })
	return out, nil
}

// members lists the regular files of a .tar.gz or .zip, in archive order.
func members(name string, data []byte) ([]string, error) {
	var names []string
	if strings.HasSuffix(name, ".zip") {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, err
		}
		for _, f := range zr.File {
			if !f.FileInfo().IsDir() {
				names = append(names, f.Name)
			}
		}
		return names, nil
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			names = append(names, h.Name)
		}
	}
}

var sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Check enforces what krew's validator does not: line width (but for uris), the short
// description's length, lower-case checksums, distinct platforms.
func Check(manifest []byte) error {
	for i, l := range strings.Split(string(manifest), "\n") {
		if len(l) > maxColumns && !strings.HasPrefix(strings.TrimSpace(l), "uri: ") { // a URL is not wrapped
			return fmt.Errorf("line %d is %d columns, over %d: shorten description.txt or caveats.txt", i+1, len(l), maxColumns)
		}
	}
	var m struct {
		Spec struct {
			ShortDescription string `json:"shortDescription"`
			Platforms        []struct {
				Selector struct {
					MatchLabels map[string]string `json:"matchLabels"`
				} `json:"selector"`
				Sha256 string `json:"sha256"`
			} `json:"platforms"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(manifest, &m); err != nil {
		return err
	}
	if sd := m.Spec.ShortDescription; len(sd) > 50 || strings.Contains(sd, "\n") {
		return fmt.Errorf("shortDescription %q must be one line of at most 50 characters", sd)
	}
	seen := map[string]bool{}
	for _, p := range m.Spec.Platforms {
		if !sha256RE.MatchString(p.Sha256) {
			return fmt.Errorf("sha256 %q is not 64 lower-case hex digits", p.Sha256)
		}
		key := p.Selector.MatchLabels["os"] + "/" + p.Selector.MatchLabels["arch"]
		if seen[key] {
			return fmt.Errorf("two platforms select %s", key)
		}
		seen[key] = true
	}
	return nil
}
