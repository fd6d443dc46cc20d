package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/yaml"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"
)

// BenchmarkApplyPhase times setup's apply phase (apply.Applier.Apply: the
// parent, the levels in parallel, the waits, prune) against `kubectl apply
// --server-side` of the very same objects, on the twin, in two states:
//
//   - converged: everything is already applied (the common rerun);
//   - fresh: nothing exists yet (each iteration deletes it all first; the
//     deletes are not timed). setup also waits for the adapter and the
//     APIServices here, which kubectl does not.
//
// It prints the ratio setup/kubectl for each (goal: <= 0.5).
//
//	INFER_HPA_E2E=1 go test -run '^$' -bench ApplyPhase -benchtime 5x ./test/e2e/
func BenchmarkApplyPhase(b *testing.B) {
	needE2E(b)
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		b.Skip("kubectl not installed")
	}
	ctx := context.Background()
	ns := "bench"
	_ = exec.Command(kubectl, "--kubeconfig", cluster.kubeconfig, "create", "namespace", ns).Run()
	o := kustomize.NewOptions()
	o.Namespace, o.Deployment, o.WIMode, o.DCGM = ns, "vllm", identity.ModeNone, kustomize.DCGMOff
	o.Complete()
	res, err := kustomize.Render(o)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := res.Objects()
	if err != nil {
		b.Fatal(err)
	}
	set := apply.ForHPA(ns, "vllm")
	objs := set.Prepare(raw)
	gks, nss := apply.Footprint(objs)
	file := filepath.Join(b.TempDir(), "objects.yaml")
	writeYAML(b, file, append([]*unstructured.Unstructured{set.Parent(gks, nss)}, objs...))
	cacheDir := b.TempDir()
	cf := genericclioptions.NewConfigFlags(true)
	cf.KubeConfig, cf.CacheDir = &cluster.kubeconfig, &cacheDir
	clients, err := apply.NewClients(cf)
	if err != nil {
		b.Fatal(err)
	}
	a := &apply.Applier{Clients: clients, Timeout: 2 * time.Minute}
	kube := func() {
		out, err := exec.Command(kubectl, "--kubeconfig", cluster.kubeconfig, "--cache-dir", cacheDir,
			"apply", "--server-side", "--field-manager", apply.FieldManager, "-f", file).CombinedOutput()
		if err != nil {
			b.Fatalf("kubectl apply: %v\n%s", err, out)
		}
	}
	ours := func() {
		if _, err := a.Apply(ctx, apply.NewOwnership(clients, set, nil), objs); err != nil {
			b.Fatal(err)
		}
	}
	clean := func() {
		if _, err := a.Delete(ctx, apply.NewOwnership(clients, set, nil)); err != nil {
			b.Fatal(err)
		}
	}
	// Warm both discovery caches.
	ours()
	kube()
	for _, state := range []string{"converged", "fresh"} {
		var tOurs, tKube time.Duration
		for i := 0; i < b.N; i++ {
			if state == "fresh" {
				clean()
			}
			start := time.Now()
			ours()
			tOurs += time.Since(start)
			if state == "fresh" {
				clean()
			}
			start = time.Now()
			kube()
			tKube += time.Since(start)
		}
		ratio := tOurs.Seconds() / tKube.Seconds()
		fmt.Printf("apply phase, %s: setup %s, kubectl apply --server-side %s per run: ratio %.2f (goal <= 0.5)\n",
			state, (tOurs / time.Duration(b.N)).Round(time.Millisecond), (tKube / time.Duration(b.N)).Round(time.Millisecond), ratio)
		b.ReportMetric(ratio, state+"-ratio")
	}
	clean()
}

func writeYAML(b *testing.B, path string, objs []*unstructured.Unstructured) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	for _, o := range objs {
		y, err := yaml.Marshal(o.Object)
		if err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(f, "---\n%s", y)
	}
}
