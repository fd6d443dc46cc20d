// Command dist builds the release artifacts of kubectl infer-hpa: one binary
// per platform, one archive per platform and a checksums.txt.
//
// Reproducibility is the point: binaries are built with CGO_ENABLED=0,
// -trimpath, -buildvcs=false and the version, commit and date passed in
// (the date is the commit time, not the clock), and archives get fixed
// modes, owners, modification times and member order. Two runs on the same
// commit with the same Go release give byte-identical archives, which is what
// lets krew-manifest.yaml record their sha256 in the repository.
//
//	go run ./hack/dist -version v0.1.0 -commit abc1234 -date 2026-01-02T03:04:05Z -out dist
//	go run ./hack/dist -skip-build -out dist   # re-archive the binaries already in dist/bin
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "dist:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("dist", flag.ContinueOnError)
	var (
		o         Options
		date      string
		platforms string
	)
	fs.StringVar(&o.Version, "version", "", "release version, semver with a leading v (e.g. v0.1.0)")
	fs.StringVar(&o.Commit, "commit", "", "commit to inject into the binary")
	fs.StringVar(&date, "date", "", "build date to inject and to stamp on archive members, RFC 3339 (use the commit time)")
	fs.StringVar(&o.OutDir, "out", "dist", "output directory")
	fs.StringVar(&o.RootDir, "root", ".", "repository root (holds LICENSE, cmd/ and completion/)")
	fs.StringVar(&platforms, "platforms", strings.Join(DefaultPlatforms, ","), "comma-separated os/arch list")
	fs.BoolVar(&o.SkipBuild, "skip-build", false, "do not compile; archive the binaries already in OUT/bin")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: dist takes flags only", fs.Args())
	}
	t, err := time.Parse(time.RFC3339, date)
	if err != nil {
		return fmt.Errorf("-date %q is not RFC 3339: pass the commit time, e.g. $(git log -1 --format=%%cI)", date)
	}
	o.Date = t.UTC()
	o.Platforms, err = ParsePlatforms(platforms)
	if err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	return o.Run(os.Stdout)
}
