package apply

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Level is one step of the apply order; objects within a level are applied
// in parallel, and a level may end with a wait.
type Level struct {
	Name    string
	Objects []*unstructured.Unstructured
	// Wait is what must hold before the next level starts.
	Wait WaitKind
}

// WaitKind says what a level waits for.
type WaitKind int

const (
	// WaitNone moves on at once.
	WaitNone WaitKind = iota
	// WaitReady waits until kstatus says Current (Deployments rolled out).
	WaitReady
	// WaitAvailable waits for the APIServices' Available condition.
	WaitAvailable
)

var levelOrder = []struct {
	name  string
	wait  WaitKind
	kinds []schema.GroupKind
}{
	{"identity and RBAC", WaitNone, []schema.GroupKind{
		{Kind: "Namespace"}, {Kind: "ServiceAccount"}, {Kind: "ConfigMap"}, {Kind: "Secret"},
		{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}, {Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"},
		{Group: "rbac.authorization.k8s.io", Kind: "Role"}, {Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"},
	}},
	{"adapter", WaitReady, []schema.GroupKind{{Kind: "Service"}, {Group: "apps", Kind: "Deployment"}}},
	{"metrics APIs", WaitAvailable, []schema.GroupKind{{Group: "apiregistration.k8s.io", Kind: "APIService"}}},
	{"scraping and rules", WaitNone, nil}, // everything not named elsewhere
	{"autoscaler", WaitNone, []schema.GroupKind{{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}}},
}

const defaultLevel = 3

func levelOf(gk schema.GroupKind) int {
	for i, l := range levelOrder {
		for _, k := range l.kinds {
			if k == gk {
				return i
			}
		}
	}
	return defaultLevel
}

// Levels groups objs into the apply order, keeping their order within a
// level and dropping empty levels.
func Levels(objs []*unstructured.Unstructured) []Level {
	levels := make([]Level, len(levelOrder))
	for i, l := range levelOrder {
		levels[i] = Level{Name: l.name, Wait: l.wait}
	}
	for _, o := range objs {
		i := levelOf(o.GroupVersionKind().GroupKind())
		levels[i].Objects = append(levels[i].Objects, o)
	}
	var out []Level
	for _, l := range levels {
		if len(l.Objects) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// deleteRank orders kinds for deletion: the reverse of the apply order.
func deleteRank(gk schema.GroupKind) int { return len(levelOrder) - levelOf(gk) }
