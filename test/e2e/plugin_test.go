package e2e

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cmd"
)

// requests counts what the plugin sent to the apiserver. With cutAfter > 0
// the connection "drops" after that many PATCHes: every later request fails
// as if the apiserver had gone away.
type requests struct {
	mu       sync.Mutex
	lines    []string
	cutAfter int
	patches  int
}

func (r *requests) RoundTrip(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		r.mu.Lock()
		cut := r.cutAfter > 0 && r.patches >= r.cutAfter
		if req.Method == http.MethodPatch {
			r.patches++
		}
		if !cut {
			r.lines = append(r.lines, req.Method+" "+req.URL.Path)
		}
		r.mu.Unlock()
		if cut {
			return nil, errors.New("connection refused (the test dropped the apiserver connection)")
		}
		return next.RoundTrip(req)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// writes are the requests that change something: every PATCH, PUT, POST
// and DELETE except access reviews (a POST that only asks).
func (r *requests) writes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var w []string
	for _, l := range r.lines {
		if strings.HasPrefix(l, "GET ") || strings.Contains(l, "selfsubjectaccessreviews") {
			continue
		}
		w = append(w, l)
	}
	return w
}

func (r *requests) count(method string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.lines {
		if strings.HasPrefix(l, method+" ") {
			n++
		}
	}
	return n
}

// result is one plugin run.
type result struct {
	stdout, stderr string
	code           int
	reqs           *requests
}

func (r result) String() string {
	return "exit " + strconv.Itoa(r.code) + "\n--- stdout\n" + r.stdout + "--- stderr\n" + r.stderr
}

// plugin runs kubectl infer-hpa in this process against the twin (or the
// given kubeconfig), counting its requests.
func plugin(t *testing.T, kubeconfig string, args ...string) result {
	t.Helper()
	return pluginCut(t, kubeconfig, 0, args...)
}

// pluginCut is plugin with the connection dropped after cutAfter PATCHes.
func pluginCut(t *testing.T, kubeconfig string, cutAfter int, args ...string) result {
	t.Helper()
	reqs := &requests{cutAfter: cutAfter}
	cf := genericclioptions.NewConfigFlags(true)
	cf.KubeConfig = &kubeconfig
	cacheDir := t.TempDir()
	cf.CacheDir = &cacheDir
	cf.WrapConfigFn = func(c *rest.Config) *rest.Config {
		c.Wrap(reqs.RoundTrip)
		return c
	}
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	code := cmd.ExecuteCmd(cmd.NewRootCmdWithFlags(streams, cf), streams, args)
	res := result{stdout: out.String(), stderr: errOut.String(), code: code, reqs: reqs}
	t.Logf("kubectl infer-hpa %s\n%s", strings.Join(args, " "), res)
	return res
}
