package apply

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/infer-hpa/kubectl-infer-hpa/test/kubefake"
)

// The ownership policy's rules (see Ownership), each on the fake cluster.

var (
	setA = ForHPA("default", "vllm")
	setB = ForHPA("team-b", "other")
)

func ours(set ApplySet, apiVersion, kind, namespace, name string) *unstructured.Unstructured {
	return kubefake.Object(apiVersion, kind, namespace, name, map[string]string{LabelPartOf: set.ID(), LabelManagedBy: ManagedBy}, nil)
}

func hpa(set ApplySet) *unstructured.Unstructured {
	return ours(set, "autoscaling/v2", "HorizontalPodAutoscaler", set.Namespace, strings.TrimPrefix(set.Name, ParentPrefix))
}

func adapter(set ApplySet) *unstructured.Unstructured {
	return ours(set, "apps/v1", "Deployment", "custom-metrics", "custom-metrics-stackdriver-adapter")
}

func clusterRole(set ApplySet, name string) *unstructured.Unstructured {
	return ours(set, "rbac.authorization.k8s.io/v1", "ClusterRole", "", name)
}

// parentOf is the inventory's parent listing what members has.
func parentOf(set ApplySet, members ...*unstructured.Unstructured) *unstructured.Unstructured {
	gks, nss := Footprint(members)
	return set.Parent(gks, nss)
}

type world struct {
	c   *kubefake.Cluster
	out bytes.Buffer
}

func newWorld(objs ...*unstructured.Unstructured) *world {
	return &world{c: kubefake.New(nil, objs...)}
}

func (w *world) clients() Clients { return Clients{Dynamic: w.c.Dynamic, Mapper: w.c.Mapper} }

func (w *world) policy(set ApplySet) *Ownership {
	return NewOwnership(w.clients(), set, NewProgress(&w.out))
}

func (w *world) applier() *Applier {
	return &Applier{Clients: w.clients(), Timeout: 10 * time.Second, Progress: NewProgress(&w.out)}
}

func (w *world) exists(t *testing.T, obj *unstructured.Unstructured) bool {
	t.Helper()
	live, err := w.clients().Get(context.Background(), obj)
	if err != nil {
		t.Fatal(err)
	}
	return live != nil
}

// Rule 1: ours is the managed-by label; a ConfigMap named like our parent
// without the inventory's labels is not ours.
func TestOursAndForeignParent(t *testing.T) {
	if Ours(nil) || Ours(kubefake.Object("v1", "Service", "default", "s", map[string]string{LabelManagedBy: "helm"}, nil)) || !Ours(hpa(setA)) {
		t.Fatal("Ours: only app.kubernetes.io/managed-by=kubectl-infer-hpa is ours")
	}
	w := newWorld(kubefake.Object("v1", "ConfigMap", "default", setA.Name, nil, nil))
	if _, err := w.applier().Delete(context.Background(), w.policy(setA)); err == nil || !strings.Contains(err.Error(), "is not an infer-hpa inventory") {
		t.Fatalf("cleanup over a foreign ConfigMap named %s: %v", setA.Name, err)
	}
	if !w.exists(t, kubefake.Object("v1", "ConfigMap", "default", setA.Name, nil, nil)) {
		t.Fatal("the foreign ConfigMap was deleted")
	}
}

// Rule 2: a foreign planned object loses our labels (it never joins the
// inventory); an existing namespace that is not ours leaves the plan.
func TestDisown(t *testing.T) {
	svc := ours(setA, "v1", "Service", "custom-metrics", "custom-metrics-stackdriver-adapter")
	ns := ours(setA, "v1", "Namespace", "", "custom-metrics")
	h := hpa(setA)
	kept, notes := Disown([]*unstructured.Unstructured{ns, svc, h}, []*unstructured.Unstructured{svc}, map[string]bool{"custom-metrics": true})
	if len(kept) != 2 || kept[0] != svc || kept[1] != h {
		t.Fatalf("kept %d objects, want the Service and the HPA", len(kept))
	}
	if _, ok := svc.GetLabels()[LabelPartOf]; ok || Ours(svc) {
		t.Errorf("the foreign Service keeps our labels: %v", svc.GetLabels())
	}
	if !Ours(h) || h.GetLabels()[LabelPartOf] != setA.ID() {
		t.Errorf("our HPA lost its labels: %v", h.GetLabels())
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "namespace custom-metrics exists and is not ours") {
		t.Errorf("notes %q", notes)
	}
}

// Rule 2 on cleanup: an object with the inventory's part-of label but not
// ours (someone copied the labels) is never deleted.
func TestDeleteNeverTouchesForeign(t *testing.T) {
	h := hpa(setA)
	foreign := kubefake.Object("v1", "Service", "default", "look-alike", map[string]string{LabelPartOf: setA.ID()}, nil)
	w := newWorld(parentOf(setA, h, foreign), h, foreign)
	rep, err := w.applier().Delete(context.Background(), w.policy(setA))
	if err != nil {
		t.Fatal(err)
	}
	if w.exists(t, h) || !w.exists(t, foreign) {
		t.Fatalf("after cleanup: HPA exists %v (want false), foreign Service exists %v (want true)", w.exists(t, h), w.exists(t, foreign))
	}
	if n := rep.Count()[Deleted]; n != 2 { // the HPA and the parent
		t.Errorf("deleted %d objects, want 2: %+v", n, rep.Results)
	}
}

// Rule 3: shared members stay while another inventory exists, on cleanup
// and on prune; the workload's own members go.
func TestSharedStayWhileAnotherInventoryExists(t *testing.T) {
	ctx := context.Background()
	h, ad, cr := hpa(setA), adapter(setA), clusterRole(setA, "infer-hpa-reader")
	w := newWorld(parentOf(setA, h, ad, cr), h, ad, cr, parentOf(setB, hpa(setB)), hpa(setB))

	prune, kept, err := w.policy(setA).Prunable(ctx, nil, []schema.GroupKind{{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}, {Group: "apps", Kind: "Deployment"}, {Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}}, []string{"default", "custom-metrics"})
	if err != nil {
		t.Fatal(err)
	}
	if len(prune) != 1 || Ref(prune[0]) != Ref(h) || !slices.Equal(kept, []string{Ref(ad), Ref(cr)}) && !slices.Equal(kept, []string{Ref(cr), Ref(ad)}) {
		t.Fatalf("prune %v, kept %v: want the HPA pruned, the adapter and the ClusterRole kept", refs(prune), kept)
	}

	rep, err := w.applier().Delete(ctx, w.policy(setA))
	if err != nil {
		t.Fatal(err)
	}
	if w.exists(t, h) || !w.exists(t, ad) || !w.exists(t, cr) {
		t.Fatal("cleanup with another inventory: want the HPA gone and the shared adapter and ClusterRole kept")
	}
	if len(rep.Kept) != 2 || !strings.Contains(w.out.String(), "also used by infer-hpa inventories team-b/infer-hpa-other") {
		t.Errorf("kept %v; progress:\n%s", rep.Kept, w.out.String())
	}
}

// Setup's prune follows the same rules: a member no longer planned goes,
// unless it is shared and another inventory exists.
func TestApplyPrunesWithKeep(t *testing.T) {
	ctx := context.Background()
	for name, others := range map[string][]*unstructured.Unstructured{
		"alone":       nil,
		"with team-b": {parentOf(setB, hpa(setB)), hpa(setB)},
	} {
		h, ad, pm := hpa(setA), adapter(setA), ours(setA, "monitoring.googleapis.com/v1", "PodMonitoring", "default", "vllm-vllm")
		w := newWorld(append([]*unstructured.Unstructured{parentOf(setA, h, ad, pm), h, ad, pm}, others...)...)
		planned := setA.Prepare([]*unstructured.Unstructured{kubefake.Object("autoscaling/v2", "HorizontalPodAutoscaler", "default", "vllm", map[string]string{LabelManagedBy: ManagedBy}, nil)})
		rep, err := w.applier().Apply(ctx, w.policy(setA), planned)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !w.exists(t, h) || w.exists(t, pm) {
			t.Errorf("%s: want the planned HPA kept and the unplanned PodMonitoring pruned", name)
		}
		if want := others != nil; w.exists(t, ad) != want || (len(rep.Kept) == 1) != want {
			t.Errorf("%s: the shared adapter exists %v, kept %v; want kept only with another inventory", name, w.exists(t, ad), rep.Kept)
		}
		parent, err := w.clients().ReadParent(ctx, setA)
		if err != nil || parent.GetAnnotations()[AnnotationGroupKinds] != "HorizontalPodAutoscaler.autoscaling" {
			t.Errorf("%s: the parent lists %v, %v", name, parent.GetAnnotations()[AnnotationGroupKinds], err)
		}
	}
}

// Rule 3 when the other inventories cannot be listed: shared objects stay,
// and the user hears why.
func TestSharedStayWhenInventoriesCannotBeListed(t *testing.T) {
	ctx := context.Background()
	h, ad := hpa(setA), adapter(setA)
	w := newWorld(parentOf(setA, h, ad), h, ad)
	w.c.Dynamic.PrependReactor("list", "configmaps", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetNamespace() == "" {
			return true, nil, apierrors.NewForbidden(ConfigMapGVR.GroupResource(), "", nil)
		}
		return false, nil, nil
	})
	if _, err := w.applier().Delete(ctx, w.policy(setA)); err != nil {
		t.Fatal(err)
	}
	if w.exists(t, h) || !w.exists(t, ad) {
		t.Fatal("want the HPA gone and the shared adapter kept")
	}
	if !strings.Contains(w.out.String(), "keeping shared objects to be safe") {
		t.Errorf("progress:\n%s", w.out.String())
	}
}

// Rule 4: the last cleanup takes the shared members and the shared objects
// of ours whose inventory is gone; a shared object of a live inventory
// would be kept by rule 3, never taken as an orphan.
func TestLastCleanupTakesSharedAndOrphans(t *testing.T) {
	ctx := context.Background()
	gone := ForHPA("default", "deleted-long-ago")
	h, ad, orphan := hpa(setA), adapter(setA), clusterRole(gone, "infer-hpa-reader")
	w := newWorld(parentOf(setA, h, ad, orphan), h, ad, orphan)
	rep, err := w.applier().Delete(ctx, w.policy(setA))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []*unstructured.Unstructured{h, ad, orphan} {
		if w.exists(t, o) {
			t.Errorf("%s survived the last cleanup", Ref(o))
		}
	}
	if len(rep.Kept) != 0 || rep.Count()[Deleted] != 4 {
		t.Errorf("kept %v, deleted %d (want 4 with the parent)", rep.Kept, rep.Count()[Deleted])
	}
	// The HPA is deleted before the adapter, the parent last.
	var order []string
	for _, r := range rep.Results {
		order = append(order, r.Ref)
	}
	if order[len(order)-1] != "configmap/"+setA.Name || slices.Index(order, Ref(h)) > slices.Index(order, Ref(ad)) {
		t.Errorf("delete order %v", order)
	}
}

// Diff shows a pruned member as deleted, but not a shared one the policy
// keeps for another inventory.
func TestDiffShowsOnlyWhatSetupPrunes(t *testing.T) {
	ctx := context.Background()
	h, ad := hpa(setA), adapter(setA)
	objs := []*unstructured.Unstructured{parentOf(setA, h, ad), h, ad}
	for name, others := range map[string][]*unstructured.Unstructured{
		"alone":       nil,
		"with team-b": {parentOf(setB, hpa(setB)), hpa(setB)},
	} {
		w := newWorld(append(append([]*unstructured.Unstructured{}, objs...), others...)...)
		// The plan is empty: everything would be pruned.
		diffs, err := w.applier().Diff(ctx, w.policy(setA), nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var deleted []string
		for _, d := range diffs {
			if strings.Contains(d.Unified, "+++ merged/") && !strings.Contains(d.Unified, "configmap/") {
				deleted = append(deleted, d.Ref)
			}
		}
		want := []string{Ref(h), Ref(ad)}
		if others != nil {
			want = []string{Ref(h)}
		}
		slices.Sort(deleted)
		slices.Sort(want)
		if !slices.Equal(deleted, want) {
			t.Errorf("%s: diff deletes %v, want %v", name, deleted, want)
		}
	}
}

func TestInventoryNames(t *testing.T) {
	w := newWorld(parentOf(setA, hpa(setA)), parentOf(ForHPA("default", "alpha")),
		kubefake.Object("v1", "ConfigMap", "default", "infer-hpa-fake", map[string]string{LabelID: "x"}, nil),
		parentOf(setB))
	names, err := w.clients().InventoryNames(context.Background(), "default")
	if err != nil || !slices.Equal(names, []string{"alpha", "vllm"}) {
		t.Fatalf("InventoryNames = %v, %v; want [alpha vllm] (not the ConfigMap without our tooling, not team-b's)", names, err)
	}
}

func refs(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, Ref(o))
	}
	return out
}

// A server dry run cannot check objects in a namespace it only dry-run
// created: their outcome is NotChecked, typed and counted, with the reason
// on the progress line.
func TestServerDryRunNotChecked(t *testing.T) {
	w := newWorld()
	w.c.Dynamic.PrependReactor("patch", "serviceaccounts", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "custom-metrics")
	})
	a := w.applier()
	a.DryRun = DryRunServer
	sa := ours(setA, "v1", "ServiceAccount", "custom-metrics", "custom-metrics-stackdriver-adapter")
	_, results, err := a.applyLevel(context.Background(), []*unstructured.Unstructured{sa})
	if err != nil {
		t.Fatal(err)
	}
	rep := &Report{Results: results}
	if results[0].Outcome != NotChecked || rep.Count()[NotChecked] != 1 {
		t.Fatalf("results %+v", results)
	}
	if want := "serviceaccount/custom-metrics-stackdriver-adapter not checked: namespace custom-metrics does not exist yet (server dry run)\n"; w.out.String() != want {
		t.Errorf("progress %q, want %q", w.out.String(), want)
	}
}
