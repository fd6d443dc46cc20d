package apply

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ApplySet labels and annotations (KEP-3659).
const (
	LabelPartOf          = "applyset.kubernetes.io/part-of"
	LabelID              = "applyset.kubernetes.io/id"
	AnnotationTooling    = "applyset.kubernetes.io/tooling"
	AnnotationGroupKinds = "applyset.kubernetes.io/contains-group-kinds"
	AnnotationNamespaces = "applyset.kubernetes.io/additional-namespaces"
	Tooling              = "kubectl-infer-hpa/v1"
	// LabelManagedBy=ManagedBy marks every object infer-hpa renders and
	// applies (see Ours); FieldManager is its server-side apply manager.
	LabelManagedBy         = "app.kubernetes.io/managed-by"
	ManagedBy              = "kubectl-infer-hpa"
	FieldManager           = ManagedBy
	ParentPrefix           = "infer-hpa-"
	applySetIDFormat       = "applyset-%s-v1"
	applySetIDPartSplitter = "."
)

// ApplySet is setup's inventory: a parent ConfigMap infer-hpa-HPA in the
// workload's namespace, and every object setup applied labelled
// applyset.kubernetes.io/part-of=ID. We chose the KEP-3659 ApplySet over a
// cli-utils inventory because kubectl itself understands it (kubectl apply
// --prune --applyset=configmap/infer-hpa-HPA works on what setup made) and
// it needs no extra object kinds.
type ApplySet struct {
	Name, Namespace string
	// Annotations are extra annotations of the parent (setup records the
	// Workload Identity settings there for cleanup --iam).
	Annotations map[string]string
}

// ForHPA is the ApplySet of the chain that autoscales hpaName.
func ForHPA(namespace, hpaName string) ApplySet {
	return ApplySet{Name: ParentPrefix + hpaName, Namespace: namespace}
}

// ID is the KEP's id: base64url(sha256(NAME.NAMESPACE.KIND.GROUP)).
func (s ApplySet) ID() string { return applySetID(s.Name, s.Namespace, "ConfigMap", "") }

func applySetID(name, namespace, kind, group string) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{name, namespace, kind, group}, applySetIDPartSplitter)))
	return fmt.Sprintf(applySetIDFormat, base64.RawURLEncoding.EncodeToString(sum[:]))
}

// String is how the parent is named in messages.
func (s ApplySet) String() string { return "configmap/" + s.Name + " in namespace " + s.Namespace }

// Label marks obj as a member.
func (s ApplySet) Label(obj *unstructured.Unstructured) {
	l := obj.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	l[LabelPartOf] = s.ID()
	obj.SetLabels(l)
}

// Parent is the parent ConfigMap listing the given members' group-kinds
// and namespaces.
func (s ApplySet) Parent(gks []schema.GroupKind, namespaces []string) *unstructured.Unstructured {
	cm := &corev1.ConfigMap{}
	cm.APIVersion, cm.Kind = "v1", "ConfigMap"
	cm.Name, cm.Namespace = s.Name, s.Namespace
	cm.Labels = map[string]string{LabelID: s.ID(), LabelManagedBy: ManagedBy}
	var extra []string
	for _, ns := range namespaces {
		if ns != "" && ns != s.Namespace {
			extra = append(extra, ns)
		}
	}
	cm.Annotations = map[string]string{
		AnnotationTooling:    Tooling,
		AnnotationGroupKinds: FormatGroupKinds(gks),
		AnnotationNamespaces: strings.Join(uniqueSorted(extra), ","),
	}
	for k, v := range s.Annotations {
		cm.Annotations[k] = v
	}
	m, _ := runtime.DefaultUnstructuredConverter.ToUnstructured(cm)
	delete(m["metadata"].(map[string]any), "creationTimestamp")
	return &unstructured.Unstructured{Object: m}
}

// FormatGroupKinds is the KEP's contains-group-kinds value: Kind.group,
// sorted, comma-separated.
func FormatGroupKinds(gks []schema.GroupKind) string {
	var s []string
	for _, gk := range gks {
		s = append(s, gk.String())
	}
	return strings.Join(uniqueSorted(s), ",")
}

// ParseGroupKinds reads a contains-group-kinds value.
func ParseGroupKinds(v string) []schema.GroupKind {
	var gks []schema.GroupKind
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			gks = append(gks, schema.ParseGroupKind(s))
		}
	}
	return gks
}

// ParseNamespaces reads an additional-namespaces value.
func ParseNamespaces(v string) []string {
	var ns []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			ns = append(ns, s)
		}
	}
	return ns
}

// Footprint returns the group-kinds and namespaces of objs.
func Footprint(objs []*unstructured.Unstructured) ([]schema.GroupKind, []string) {
	var gks []schema.GroupKind
	var ns []string
	for _, o := range objs {
		gks = append(gks, o.GroupVersionKind().GroupKind())
		if o.GetNamespace() != "" {
			ns = append(ns, o.GetNamespace())
		}
	}
	return gks, uniqueSorted(ns)
}

func uniqueSorted(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}
