package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

const (
	// BinName is the plugin's executable; kubectl finds it as `kubectl infer-hpa`.
	BinName = "kubectl-infer_hpa"
	// CompletionName is the script kubectl >= 1.26 runs to complete the plugin's arguments.
	CompletionName = "kubectl_complete-infer_hpa"
	// Module is the plugin's Go module path.
	Module = "github.com/infer-hpa/kubectl-infer-hpa"
	// ChecksumsName is the file of SHA-256 sums next to the archives.
	ChecksumsName = "checksums.txt"
)

// DefaultPlatforms are the release targets.
var DefaultPlatforms = []string{
	"darwin/amd64", "darwin/arm64",
	"linux/amd64", "linux/arm64",
	"windows/amd64", "windows/arm64",
}

var semverRE = regexp.MustCompile(`^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$`)

// Platform is one GOOS/GOARCH target.
type Platform struct{ OS, Arch string }

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// Exe is the binary's file name on this platform.
func (p Platform) Exe() string {
	if p.OS == "windows" {
		return BinName + ".exe"
	}
	return BinName
}

// ArchiveName is the release archive of this platform for version.
func (p Platform) ArchiveName(version string) string {
	ext := ".tar.gz"
	if p.OS == "windows" {
		ext = ".zip"
	}
	return fmt.Sprintf("%s_%s_%s_%s%s", BinName, version, p.OS, p.Arch, ext)
}

// ParsePlatforms parses a comma-separated os/arch list.
func ParsePlatforms(s string) ([]Platform, error) {
	var out []Platform
	for _, f := range strings.Split(s, ",") {
		os, arch, ok := strings.Cut(strings.TrimSpace(f), "/")
		if !ok || os == "" || arch == "" {
			return nil, fmt.Errorf("-platforms entry %q is not os/arch: use e.g. linux/amd64", f)
		}
		out = append(out, Platform{OS: os, Arch: arch})
	}
	return out, nil
}

// Options says what to build and where.
type Options struct {
	Version   string
	Commit    string
	Date      time.Time
	OutDir    string
	RootDir   string
	Platforms []Platform
	SkipBuild bool
}

// Validate checks the options before anything is written.
func (o *Options) Validate() error {
	if !semverRE.MatchString(o.Version) {
		return fmt.Errorf("-version %q is not semver with a leading v: use e.g. v0.1.0 (see the VERSION file)", o.Version)
	}
	if o.Commit == "" {
		return fmt.Errorf("-commit is empty: pass $(git rev-parse --short HEAD)")
	}
	if o.Date.IsZero() {
		return fmt.Errorf("-date is empty: pass the commit time, e.g. $(git log -1 --format=%%cI)")
	}
	return nil
}

// Run builds (unless SkipBuild), archives and writes checksums.txt.
func (o *Options) Run(log io.Writer) error {
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return err
	}
	sums := map[string]string{}
	for _, p := range o.Platforms {
		bin := filepath.Join(o.OutDir, "bin", p.OS+"_"+p.Arch, p.Exe())
		if !o.SkipBuild {
			start := time.Now()
			if err := o.build(p, bin); err != nil {
				return err
			}
			fmt.Fprintf(log, "built    %s (%s)\n", bin, time.Since(start).Round(time.Second/10))
		}
		members, err := o.members(p, bin)
		if err != nil {
			return err
		}
		name := p.ArchiveName(o.Version)
		data, err := Archive(name, members, o.Date)
		if err != nil {
			return fmt.Errorf("archive %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(o.OutDir, name), data, 0o644); err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		sums[name] = hex.EncodeToString(sum[:])
		fmt.Fprintf(log, "archived %s %s\n", filepath.Join(o.OutDir, name), sums[name])
	}
	return os.WriteFile(filepath.Join(o.OutDir, ChecksumsName), Checksums(sums), 0o644)
}

// LDFlags are the linker flags that strip the binary and inject the version.
func (o *Options) LDFlags() string {
	pkg := Module + "/pkg/version"
	return fmt.Sprintf("-s -w -buildid= -X %s.version=%s -X %s.commit=%s -X %s.date=%s",
		pkg, o.Version, pkg, o.Commit, pkg, o.Date.Format(time.RFC3339))
}

func (o *Options) build(p Platform, out string) error {
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", o.LDFlags(), "-o", abs, "./cmd/kubectl-infer-hpa")
	cmd.Dir = o.RootDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch, "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", p, err, stderr.String())
	}
	return nil
}

// members lists what goes into the archive of p, in archive order.
func (o *Options) members(p Platform, bin string) ([]Member, error) {
	type file struct {
		name, path string
		mode       fs.FileMode
	}
	files := []file{
		{p.Exe(), bin, 0o755},
		{"LICENSE", filepath.Join(o.RootDir, "LICENSE"), 0o644},
	}
	if p.OS != "windows" { // a POSIX shell script; kubectl on Windows cannot run it
		files = append(files, file{CompletionName, filepath.Join(o.RootDir, "completion", CompletionName), 0o755})
	}
	out := make([]Member, 0, len(files))
	for _, f := range files {
		data, err := os.ReadFile(f.path)
		if err != nil {
			return nil, fmt.Errorf("%s for %s: %w", f.name, p, err)
		}
		out = append(out, Member{Name: f.name, Mode: f.mode, Data: data})
	}
	return out, nil
}

// Checksums renders sums in sha256sum's format, sorted by file name, so
// `sha256sum -c checksums.txt` verifies a download.
func Checksums(sums map[string]string) []byte {
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, n := range names {
		fmt.Fprintf(&b, "%s  %s\n", sums[n], n)
	}
	return b.Bytes()
}
