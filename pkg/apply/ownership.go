package apply

import (
	"context"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Ownership is the one policy for what infer-hpa may change and remove, as
// cli-utils' inventory.Policy is for kpt: planning, preflight, setup's
// prune, diff and cleanup ask it, and no other code decides. Its rules:
//
//  1. Ours is what carries app.kubernetes.io/managed-by=kubectl-infer-hpa
//     (see Ours). An inventory's members are ours and carry its
//     applyset.kubernetes.io/part-of id; the inventory itself is the parent
//     ConfigMap infer-hpa-HPA with its applyset id label and our tooling
//     annotation. A ConfigMap of that name without them is not ours and
//     stops setup and cleanup (ReadParent).
//  2. Foreign objects are never pruned or deleted. A planned object that
//     exists without our label is foreign: preflight fails unless the user
//     takes it over with --force-conflicts, and then it is disowned (see
//     Disown): applied without our labels, so it never joins the
//     inventory. A planned namespace that exists and is not ours is left
//     out of the plan: used as is, never deleted.
//  3. Shared objects (outside the workload's namespace: the adapter, its
//     RBAC, the APIServices, cluster-wide rules; see ApplySet.Shared) serve
//     every setup in the cluster. They stay, neither pruned nor deleted,
//     while another inventory exists, and also when the other inventories
//     cannot be listed.
//  4. The last cleanup takes them: with no other inventory in the cluster,
//     cleanup deletes the shared members and the shared objects of ours
//     whose inventory is gone (a shared object carries the id of the setup
//     that applied it last).
//  5. What the user adopts by name (--adopt-podmonitoring NAME, see
//     Adopted) becomes ours: it is not foreign, setup applies over its
//     fields and it joins the inventory, so cleanup deletes it.
//
// An Ownership is for one inventory and one command: it lists the other
// inventories at most once, when rule 3 first needs them.
type Ownership struct {
	clients Clients
	set     ApplySet
	// progress, when set, hears once that shared objects are kept and why.
	progress *Progress
	others   *Inventories
}

// NewOwnership is the policy for set; progress may be nil.
func NewOwnership(c Clients, set ApplySet, progress *Progress) *Ownership {
	return &Ownership{clients: c, set: set, progress: progress}
}

// Set is the inventory the policy is for.
func (o *Ownership) Set() ApplySet { return o.set }

// Ours says whether a live object was made by infer-hpa (rule 1); nil is
// not ours.
func Ours(live *unstructured.Unstructured) bool {
	return live != nil && live.GetLabels()[LabelManagedBy] == ManagedBy
}

// Adopted is rule 5's test for --adopt-podmonitoring name in namespace:
// the planned PodMonitoring of that name; nil when nothing is adopted.
func Adopted(namespace, name string) func(*unstructured.Unstructured) bool {
	if name == "" {
		return nil
	}
	return func(o *unstructured.Unstructured) bool {
		return o.GetKind() == "PodMonitoring" && o.GetNamespace() == namespace && o.GetName() == name
	}
}

// Disown applies rule 2 to a prepared plan: the foreign objects (planned
// objects found existing and not ours) lose the inventory's labels, and
// planned namespaces that exist and are not ours leave the plan. It returns
// the objects to apply and one note per namespace left out.
func Disown(objs, foreign []*unstructured.Unstructured, existingNamespaces map[string]bool) ([]*unstructured.Unstructured, []string) {
	f := map[*unstructured.Unstructured]bool{}
	for _, o := range foreign {
		f[o] = true
	}
	var kept []*unstructured.Unstructured
	var notes []string
	for _, o := range objs {
		if o.GetKind() == "Namespace" && existingNamespaces[o.GetName()] {
			notes = append(notes, fmt.Sprintf("namespace %s exists and is not ours: used as is, never deleted", o.GetName()))
			continue
		}
		if f[o] {
			l := o.GetLabels()
			delete(l, LabelPartOf)
			delete(l, LabelManagedBy)
			o.SetLabels(l)
		}
		kept = append(kept, o)
	}
	return kept, notes
}

// Others are the other infer-hpa inventories in the cluster, listed once.
// When they cannot be listed, the answer is one unknown inventory, so that
// shared objects stay (rule 3), and progress hears why.
func (o *Ownership) Others(ctx context.Context) Inventories {
	if o.others != nil {
		return *o.others
	}
	others, err := o.clients.OtherInventories(ctx, o.set)
	if err != nil {
		o.progress.Printf("warning: %v; keeping shared objects to be safe", err)
		others.Names = []string{"(unknown)"}
	} else if len(others.Names) > 0 {
		o.progress.Printf("keeping the shared adapter, RBAC and APIServices: also used by infer-hpa inventories %s", strings.Join(others.Names, ", "))
	}
	o.others = &others
	return others
}

// Keep says whether a member of ours that would be pruned or deleted must
// stay (rule 3): it is shared and another inventory may use it.
func (o *Ownership) Keep(ctx context.Context, obj *unstructured.Unstructured) bool {
	return o.set.Shared(obj) && len(o.Others(ctx).Names) > 0
}

// Prunable splits the members of the set among gks and namespaces that are
// not planned into those setup prunes and those it keeps (rule 3); only
// members are ever considered, so foreign objects are never pruned.
func (o *Ownership) Prunable(ctx context.Context, planned []*unstructured.Unstructured, gks []schema.GroupKind, namespaces []string) (prune []*unstructured.Unstructured, kept []string, err error) {
	members, err := o.clients.Members(ctx, o.set, gks, namespaces)
	if err != nil {
		return nil, nil, err
	}
	want := map[string]bool{}
	for _, p := range planned {
		want[key(p)] = true
	}
	for _, m := range members {
		switch {
		case want[key(m)]:
		case o.Keep(ctx, m):
			kept = append(kept, Ref(m))
		default:
			prune = append(prune, m)
		}
	}
	return prune, kept, nil
}

// Deletable is what cleanup deletes of the inventory whose parent is
// given: its members and, when it is the last inventory, the orphaned
// shared objects of ours (rule 4); shared objects another inventory may
// use are kept (rule 3).
func (o *Ownership) Deletable(ctx context.Context, parent *unstructured.Unstructured) (del []*unstructured.Unstructured, kept []string, err error) {
	gks, nss := footprintOf(parent)
	members, err := o.clients.Members(ctx, o.set, gks, nss)
	if err != nil {
		return nil, nil, err
	}
	orphans, err := o.clients.Orphans(ctx, o.set, gks, nss, o.Others(ctx))
	if err != nil {
		return nil, nil, err
	}
	for _, m := range append(members, orphans...) {
		if o.Keep(ctx, m) {
			kept = append(kept, Ref(m))
			continue
		}
		del = append(del, m)
	}
	return del, kept, nil
}

// InventoryNames are the HPA names of the infer-hpa inventories in a
// namespace, sorted (cleanup without an HPA takes the only one).
func (c Clients) InventoryNames(ctx context.Context, namespace string) ([]string, error) {
	list, err := c.Dynamic.Resource(ConfigMapGVR).Namespace(namespace).List(ctx, metav1.ListOptions{LabelSelector: LabelID})
	if err != nil {
		return nil, fmt.Errorf("listing inventories in namespace %q: %w", namespace, err)
	}
	var names []string
	for _, cm := range list.Items {
		if cm.GetAnnotations()[AnnotationTooling] == Tooling {
			names = append(names, strings.TrimPrefix(cm.GetName(), ParentPrefix))
		}
	}
	sort.Strings(names)
	return names, nil
}

// Inventories are infer-hpa ApplySet parents in the cluster.
type Inventories struct {
	// Names are namespace/name, sorted.
	Names []string
	// IDs are their ApplySet ids.
	IDs map[string]bool
}

// OtherInventories lists the infer-hpa inventories in the cluster other
// than s.
func (c Clients) OtherInventories(ctx context.Context, s ApplySet) (Inventories, error) {
	inv := Inventories{IDs: map[string]bool{}}
	list, err := c.Dynamic.Resource(ConfigMapGVR).List(ctx, metav1.ListOptions{LabelSelector: LabelID})
	if err != nil {
		return inv, fmt.Errorf("looking for other infer-hpa inventories (needs list configmaps in all namespaces): %w", err)
	}
	for _, cm := range list.Items {
		if cm.GetAnnotations()[AnnotationTooling] != Tooling || cm.GetNamespace() == s.Namespace && cm.GetName() == s.Name {
			continue
		}
		inv.Names = append(inv.Names, cm.GetNamespace()+"/"+cm.GetName())
		inv.IDs[cm.GetLabels()[LabelID]] = true
	}
	sort.Strings(inv.Names)
	return inv, nil
}

// Orphans are shared objects of ours (managed-by=kubectl-infer-hpa) that
// belong to no existing inventory: shared objects carry the id of the
// setup that applied them last, and that inventory may be gone. The last
// cleanup in the cluster takes them along.
func (c Clients) Orphans(ctx context.Context, s ApplySet, gks []schema.GroupKind, namespaces []string, others Inventories) ([]*unstructured.Unstructured, error) {
	all, err := c.listLabelled(ctx, gks, namespaces, LabelPartOf+","+LabelManagedBy+"="+ManagedBy)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, o := range all {
		id := o.GetLabels()[LabelPartOf]
		if s.Shared(o) && id != s.ID() && !others.IDs[id] {
			out = append(out, o)
		}
	}
	return out, nil
}

// Shared says whether a member lives outside the workload's namespace (the
// adapter, its RBAC, the APIServices, cluster-wide rules): other infer-hpa
// setups in the cluster use those too.
func (s ApplySet) Shared(obj *unstructured.Unstructured) bool {
	return obj.GetNamespace() != s.Namespace
}
