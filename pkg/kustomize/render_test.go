package kustomize

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
)

var update = flag.Bool("update", false, "rewrite the golden files from the current output")

func quantity(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}

// tutorial returns the options that reproduce seans3/k8s-ai vllm-gpu/hpa.
func tutorial() Options {
	o := NewOptions()
	o.Deployment = "vllm-gemma-deployment"
	o.PodSelector = map[string]string{"app": "gemma-server"}
	o.MetricsPort = "8081"
	o.Metrics = []Metric{{Name: "running", Target: quantity("4")}}
	o.Behavior = BehaviorTutorial
	o.WIMode = identity.ModeGSA
	o.Project = "my-project"
	return o
}

// variants covers every metric, behavior, Workload Identity and DCGM choice.
func variants() map[string]Options {
	with := func(f func(*Options)) Options {
		o := NewOptions()
		o.Deployment = "vllm"
		f(&o)
		return o
	}
	return map[string]Options{
		"tutorial":        tutorial(),
		"defaults":        with(func(*Options) {}),
		"metric-waiting":  with(func(o *Options) { o.Metrics = []Metric{{Name: "waiting", Target: quantity("5")}} }),
		"metric-kv-cache": with(func(o *Options) { o.Metrics = []Metric{{Name: "kv-cache"}} }),
		"metric-gpu-util": with(func(o *Options) { o.Metrics = []Metric{{Name: "gpu-util"}} }),
		"metrics-all": with(func(o *Options) {
			o.Metrics = []Metric{{Name: "running"}, {Name: "waiting"}, {Name: "kv-cache", Target: quantity("0.7")}, {Name: "gpu-util", Target: quantity("60")}}
		}),
		"behavior-kube": with(func(o *Options) { o.Behavior = BehaviorKubernetes }),
		"wi-none":       with(func(o *Options) { o.WIMode = identity.ModeNone }),
		"wi-gsa-custom": with(func(o *Options) {
			o.WIMode, o.Project, o.GSAName = identity.ModeGSA, "prod-llm-123", "hpa-metrics-reader"
		}),
		"dcgm-self":         with(func(o *Options) { o.DCGM, o.Metrics = DCGMSelf, []Metric{{Name: "gpu-util"}} }),
		"dcgm-off":          with(func(o *Options) { o.DCGM = DCGMOff }),
		"adapter-nodes-any": with(func(o *Options) { o.AdapterNodes = AdapterNodesAny }),
		"named-port-mirror": with(func(o *Options) {
			o.Namespace, o.MetricsPort, o.AdapterImage = "llm", "metrics", "mirror.example.com/gke/adapter:v0.16.9"
		}),
	}
}

// nativeVariants are the GKE-native path's (--path native) variants.
func nativeVariants() map[string]Options {
	o := NewOptions()
	o.Deployment, o.Path = "vllm", PathNative
	tut := tutorial()
	tut.Path, tut.WIMode, tut.Project, tut.Namespace = PathNative, identity.ModePrincipal, "", "llm"
	tut.Metrics = []Metric{{Name: "running", Target: quantity("6")}, {Name: "waiting"}, {Name: "kv-cache", Target: quantity("0.7")}}
	return map[string]Options{"native": o, "native-tutorial": tut}
}

// allVariants is every variant of both paths.
func allVariants() map[string]Options {
	all := variants()
	for name, o := range nativeVariants() {
		all[name] = o
	}
	return all
}

func TestGolden(t *testing.T) {
	for name, o := range allVariants() {
		t.Run(name, func(t *testing.T) {
			res, err := Render(complete(o))
			if err != nil {
				t.Fatal(err)
			}
			got, err := res.YAML()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", name+".yaml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./pkg/kustomize -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				diff, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{A: difflib.SplitLines(string(want)), B: difflib.SplitLines(string(got)),
					FromFile: path, ToFile: "rendered", Context: 3})
				t.Errorf("%s differs from its golden file; if the change is intended, run go test ./pkg/kustomize -update and review the diff:\n%s", path, diff)
			}
		})
	}
}

// TestExportRoundTrip builds every variant's exported directory with the
// real kubectl on this machine and compares it byte for byte.
func TestExportRoundTrip(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not on PATH: the export round trip needs the real kubectl")
	}
	for name, o := range allVariants() {
		t.Run(name, func(t *testing.T) {
			res, err := Render(complete(o))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := res.Files.WriteTo(filesys.MakeFsOnDisk(), dir); err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd := exec.Command(kubectl, "kustomize", dir)
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("kubectl kustomize: %v: %s", err, stderr.String())
			}
			want, _ := res.YAML()
			if !bytes.Equal(out, want) {
				t.Errorf("kubectl kustomize %s differs from render:\n--- kubectl\n%s\n--- render\n%s", dir, out, want)
			}
			if stderr.Len() > 0 {
				t.Errorf("kubectl kustomize warned: %s", stderr.String())
			}
		})
	}
}

func BenchmarkRender(b *testing.B) {
	o := variants()["metrics-all"]
	for b.Loop() {
		if _, err := Render(complete(o)); err != nil {
			b.Fatal(err)
		}
	}
}

// complete is o completed, as render and the planner hand it to Render.
func complete(o Options) Options {
	o.Complete()
	return o
}
