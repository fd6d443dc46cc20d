// Command krew-manifest writes the krew plugin manifest of kubectl infer-hpa
// from the release archives in dist/: one platform per archive, its sha256,
// its member list as `files`, and the description and caveats word-wrapped
// so that no line of the manifest passes 80 columns.
//
//	go run ./hack/krew-manifest -version v0.1.0 -dist dist -o krew-manifest.yaml
//
// -base-url points the uris elsewhere (the CI test serves dist/ on loopback
// for krew's validate-krew-manifest, which downloads every platform).
package main

import (
	"bytes"
	_ "embed"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/template"
)

const defaultBaseURL = "https://github.com/infer-hpa/kubectl-infer-hpa/releases/download/{{version}}"

var (
	//go:embed krew-manifest.yaml.tmpl
	manifestTemplate string
	//go:embed description.txt
	description string
	//go:embed caveats.txt
	caveats string
)

// indentWidth is where the template puts description and caveats; wrapping
// at maxColumns-indentWidth keeps every manifest line within maxColumns.
const (
	indentWidth = 4
	maxColumns  = 80
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "krew-manifest:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("krew-manifest", flag.ContinueOnError)
	version := fs.String("version", "", "release version with a leading v (the VERSION file)")
	dist := fs.String("dist", "dist", "directory holding the release archives")
	baseURL := fs.String("base-url", defaultBaseURL, "URL the archives are downloaded from; {{version}} is replaced")
	out := fs.String("o", "-", "output file, - for stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: krew-manifest takes flags only", fs.Args())
	}
	if *version == "" {
		return fmt.Errorf("-version is empty: pass $(cat VERSION)")
	}
	platforms, err := ScanDist(*dist, *version, strings.ReplaceAll(*baseURL, "{{version}}", *version))
	if err != nil {
		return err
	}
	data, err := Render(*version, platforms)
	if err != nil {
		return err
	}
	if *out == "-" {
		_, err = os.Stdout.Write(data)
		return err
	}
	return os.WriteFile(*out, data, 0o644)
}

// Render fills the template and checks the result.
func Render(version string, platforms []Platform) ([]byte, error) {
	if len(platforms) == 0 {
		return nil, fmt.Errorf("no release archives of %s found: run make dist first", version)
	}
	tmpl, err := template.New("manifest").Funcs(template.FuncMap{
		"indent": func(n int, s string) string {
			pad := strings.Repeat(" ", n)
			lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
			for i, l := range lines {
				if l != "" {
					lines[i] = pad + l
				}
			}
			return strings.Join(lines, "\n")
		},
	}).Parse(manifestTemplate)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	err = tmpl.Execute(&buf, struct {
		Version, Description, Caveats string
		Platforms                     []Platform
	}{
		Version:     version,
		Description: Wrap(description, maxColumns-indentWidth),
		Caveats:     Wrap(caveats, maxColumns-indentWidth),
		Platforms:   platforms,
	})
	if err != nil {
		return nil, err
	}
	if err := Check(buf.Bytes()); err != nil {
		return nil, fmt.Errorf("generated manifest: %w", err)
	}
	return buf.Bytes(), nil
}

// Wrap fills paragraphs to width columns. Lines that start with a space
// (commands, continuation lines) are kept as they are.
func Wrap(text string, width int) string {
	var out []string
	var para []string
	flush := func() {
		line := ""
		for _, w := range strings.Fields(strings.Join(para, " ")) {
			if line != "" && len(line)+1+len(w) > width {
				out = append(out, line)
				line = ""
			}
			if line != "" {
				line += " "
			}
			line += w
		}
		if line != "" {
			out = append(out, line)
		}
		para = nil
	}
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		switch {
		case strings.TrimSpace(l) == "":
			flush()
			out = append(out, "")
		case strings.HasPrefix(l, " "):
			flush()
			out = append(out, l)
		default:
			para = append(para, l)
		}
	}
	flush()
	return strings.Join(out, "\n") + "\n"
}
