package apply

import (
	"context"
	"fmt"

	"github.com/aymanbagabas/go-udiff"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// ObjectDiff is the change setup would make to one object.
type ObjectDiff struct {
	Ref string
	// Unified is the unified diff of live -> after (empty: no change).
	Unified string
}

// Diff computes what Apply would change, without persisting anything:
// objects whose live state already holds the plan are unchanged (setup
// sends nothing for them); the others go through a server-side dry-run
// apply and are compared with the live object; members no longer planned
// that setup would prune are shown as deleted (shared ones the ownership
// policy keeps are not).
func (a *Applier) Diff(ctx context.Context, own *Ownership, objs []*unstructured.Unstructured) ([]ObjectDiff, error) {
	set := own.Set()
	dry := *a
	dry.DryRun = DryRunServer
	dry.Progress = nil
	old, err := a.ReadParent(ctx, set)
	if err != nil {
		return nil, err
	}
	gks, nss := Footprint(objs)
	parent := set.Parent(gks, nss)
	var out []ObjectDiff
	for _, o := range append([]*unstructured.Unstructured{parent}, objs...) {
		live, err := a.Get(ctx, o)
		if err != nil {
			return nil, err
		}
		if live != nil && IsSubset(o.Object, live.Object) {
			continue
		}
		_, after, err := dry.ApplyOne(ctx, o)
		if err != nil {
			return nil, err
		}
		if after == nil {
			after = o // in a namespace not created yet: the plan is all we know
		}
		d, err := unified(Ref(o), live, after)
		if err != nil {
			return nil, err
		}
		if d != "" {
			out = append(out, ObjectDiff{Ref: Ref(o), Unified: d})
		}
	}
	oldGKs, oldNS := footprintOf(old)
	prune, _, err := own.Prunable(ctx, objs, unionGKs(oldGKs, gks), uniqueSorted(append(oldNS, nss...)))
	if err != nil {
		return nil, err
	}
	for _, m := range prune {
		d, err := unified(Ref(m), m, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, ObjectDiff{Ref: Ref(m), Unified: d})
	}
	return out, nil
}

// unified diffs two objects as YAML, without the fields only the server
// writes (managedFields); kubectl diff's labels: live and merged.
func unified(ref string, before, after *unstructured.Unstructured) (string, error) {
	b, err := diffYAML(before)
	if err != nil {
		return "", err
	}
	a, err := diffYAML(after)
	if err != nil {
		return "", err
	}
	if b == a {
		return "", nil
	}
	return udiff.Unified(fmt.Sprintf("live/%s", ref), fmt.Sprintf("merged/%s", ref), b, a), nil
}

func diffYAML(obj *unstructured.Unstructured) (string, error) {
	if obj == nil {
		return "", nil
	}
	c := obj.DeepCopy()
	unstructured.RemoveNestedField(c.Object, "metadata", "managedFields")
	b, err := yaml.Marshal(c.Object)
	return string(b), err
}
