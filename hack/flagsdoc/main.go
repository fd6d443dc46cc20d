// Command flagsdoc writes docs/flags.md: every command's flags as a table,
// taken from the cobra commands themselves, so the table cannot drift from
// --help. With -check FILE it compares instead and fails when FILE is stale
// (hack/test.sh runs that in CI).
//
//	go run ./hack/flagsdoc > docs/flags.md
//	go run ./hack/flagsdoc -check docs/flags.md
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aymanbagabas/go-udiff"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cmd"
)

func main() {
	check := flag.String("check", "", "compare with this file instead of printing; exit 1 when it differs")
	flag.Parse()
	home, _ := os.UserHomeDir()
	root := cmd.NewRootCmd(genericiooptions.NewTestIOStreamsDiscard())
	var b bytes.Buffer
	Write(&b, root, home)
	if *check == "" {
		os.Stdout.Write(b.Bytes())
		return
	}
	have, err := os.ReadFile(*check)
	if err != nil {
		fmt.Fprintf(os.Stderr, "flagsdoc: %v\n", err)
		os.Exit(1)
	}
	if !bytes.Equal(have, b.Bytes()) {
		fmt.Fprint(os.Stderr, udiff.Unified(*check, "the commands' flags", string(have), b.String()))
		fmt.Fprintf(os.Stderr, "flagsdoc: %s is stale: regenerate it with `go run ./hack/flagsdoc > %s`\n", *check, *check)
		os.Exit(1)
	}
}

// Write renders the flag tables of every available command under root,
// then root's persistent (kubectl) flags. A default under home is written
// under $HOME (kubectl's --cache-dir), so the file does not depend on who
// generates it.
func Write(w io.Writer, root *cobra.Command, home string) {
	name := root.DisplayName()
	fmt.Fprintf(w, "# Flags of `%s`\n\n", name)
	fmt.Fprintf(w, "<!-- Generated from the cobra commands by `go run ./hack/flagsdoc > docs/flags.md`; hack/test.sh fails when it is stale. Do not edit by hand. -->\n\n")
	fmt.Fprintf(w, "Every command also takes [kubectl's flags](#kubectls-flags) (`--kubeconfig`, `--context`, `-n/--namespace`, …). `%s COMMAND --help` has the same text with examples.\n", name)
	for _, c := range commands(root) {
		fmt.Fprintf(w, "\n## %s\n\n", c.CommandPath())
		fmt.Fprintf(w, "`%s` — %s\n", c.UseLine(), c.Short)
		writeTable(w, c.NonInheritedFlags(), home)
	}
	fmt.Fprintf(w, "\n## kubectl's flags\n\nTaken by every command (k8s.io/cli-runtime's ConfigFlags, as kubectl has them).\n")
	writeTable(w, root.PersistentFlags(), home)
}

// commands lists the available commands under c, depth first, in cobra's
// (alphabetical) order; help and hidden commands are left out.
func commands(c *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, sub := range c.Commands() {
		if !sub.IsAvailableCommand() {
			continue
		}
		out = append(out, sub)
		out = append(out, commands(sub)...)
	}
	return out
}

func writeTable(w io.Writer, fs *pflag.FlagSet, home string) {
	var rows []string
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden || f.Name == "help" {
			return
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | %s |", cell(flagName(f)), cell(defaultOf(f, home)), escape(usageOf(f))))
	})
	if len(rows) == 0 {
		fmt.Fprintf(w, "\nNo flags of its own.\n")
		return
	}
	fmt.Fprintf(w, "\n| flag | default | meaning |\n|---|---|---|\n%s\n", strings.Join(rows, "\n"))
}

// flagName is the flag as --help shows it: -o, --output string[="x"].
func flagName(f *pflag.Flag) string {
	s := "--" + f.Name
	if f.Shorthand != "" {
		s = "-" + f.Shorthand + ", " + s
	}
	if varname, _ := pflag.UnquoteUsage(f); varname != "" {
		s += " " + varname
	}
	if f.NoOptDefVal != "" && f.Value.Type() != "bool" {
		s += fmt.Sprintf("[=%q]", f.NoOptDefVal)
	}
	return s
}

func usageOf(f *pflag.Flag) string {
	_, usage := pflag.UnquoteUsage(f)
	return usage
}

// defaultOf is the default --help prints: empty for a type's zero value.
func defaultOf(f *pflag.Flag, home string) string {
	d := f.DefValue
	switch f.Value.Type() {
	case "bool":
		if d == "false" {
			return ""
		}
	case "duration":
		if d == "0" || d == "0s" {
			return ""
		}
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		if d == "0" {
			return ""
		}
	case "stringSlice", "stringArray", "intSlice", "uintSlice":
		if d == "[]" {
			return ""
		}
	}
	if home != "" && home != "/" && strings.HasPrefix(d, home+"/") {
		d = "$HOME" + strings.TrimPrefix(d, home)
	}
	return d
}

// cell is s as code, or empty.
func cell(s string) string {
	if s == "" {
		return ""
	}
	return "`" + strings.ReplaceAll(s, "|", `\|`) + "`"
}

// escape keeps a table cell in one piece: no pipes, no line breaks.
func escape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}
