package runner

import (
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/sim/vllm"
)

// vllmDefaultPort is vLLM's --port default.
const vllmDefaultPort = 8000

var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// serverArgs is what the simulator takes from a vLLM container's command
// line: `vllm serve MODEL` or `--model`, `--served-model-name`, `--port`,
// `--max-num-seqs`, `--max-model-len`, with $(VAR) expanded from the
// container's env as the kubelet does.
type serverArgs struct {
	Model, ServedName string
	Port              int32
	MaxNumSeqs        int
	MaxModelLen       int
}

func parseArgs(c *corev1.Container) serverArgs {
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	var argv []string
	for _, a := range append(append([]string{}, c.Command...), c.Args...) {
		a = envRef.ReplaceAllStringFunc(a, func(m string) string {
			if v, ok := env[m[2:len(m)-1]]; ok {
				return v
			}
			return m
		})
		// A shell wrapper (sh -c "vllm serve ...") is split into words.
		argv = append(argv, strings.Fields(a)...)
	}
	out := serverArgs{Port: vllmDefaultPort}
	flag := func(i int, name string) (string, int, bool) {
		a := argv[i]
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, i, true
		}
		if a == name && i+1 < len(argv) {
			return argv[i+1], i + 1, true
		}
		return "", i, false
	}
	for i := 0; i < len(argv); i++ {
		if argv[i] == "serve" && i+1 < len(argv) && !strings.HasPrefix(argv[i+1], "-") {
			out.Model = argv[i+1]
			i++
			continue
		}
		for _, f := range []struct {
			name string
			set  func(string)
		}{
			{"--model", func(v string) { out.Model = v }},
			{"--served-model-name", func(v string) { out.ServedName = v }},
			{"--port", func(v string) {
				if p, err := strconv.ParseInt(v, 10, 32); err == nil {
					out.Port = int32(p)
				}
			}},
			{"--max-num-seqs", func(v string) { out.MaxNumSeqs, _ = strconv.Atoi(v) }},
			{"--max-model-len", func(v string) { out.MaxModelLen, _ = strconv.Atoi(v) }},
		} {
			if v, j, ok := flag(i, f.name); ok {
				f.set(v)
				i = j
				break
			}
		}
	}
	return out
}

// model applies the arguments to a base model.
func (a serverArgs) model(base vllm.Model) vllm.Model {
	m := base
	switch {
	case a.ServedName != "":
		m.Name = a.ServedName
	case a.Model != "":
		m.Name = a.Model
	}
	if a.MaxNumSeqs > 0 {
		m.MaxNumSeqs = a.MaxNumSeqs
	}
	if a.MaxModelLen > 0 {
		m.MaxModelLen = a.MaxModelLen
	}
	return m
}
