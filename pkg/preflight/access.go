package preflight

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	authv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cluster"
)

// AccessVerbs are what setup needs on every planned kind.
var AccessVerbs = []string{"get", "create", "patch"}

type accessKey struct {
	group, resource, namespace, verb string
}

// checkAccess: a SelfSubjectAccessReview per resource, namespace and verb
// of the objects setup will write (those whose live copy does not already
// hold the plan: a rerun that changes nothing asks nothing); lists every
// missing permission.
func checkAccess(ctx context.Context, env cluster.Env, in Input, r *Result) {
	c := Check{Name: "permissions"}
	keys := map[accessKey]bool{}
	for _, o := range in.Objects {
		if l := r.lives[o]; l.err == nil && l.obj != nil && apply.IsSubset(o.Object, l.obj.Object) {
			continue // unchanged: nothing to write
		}
		gvr, namespaced, err := gvrOf(env, o)
		if err != nil {
			continue // reported by the CRD check
		}
		ns := ""
		if namespaced {
			ns = o.GetNamespace()
		}
		for _, v := range AccessVerbs {
			keys[accessKey{gvr.Group, gvr.Resource, ns, v}] = true
		}
	}
	var mu sync.Mutex
	var missing []string
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for k := range keys {
		g.Go(func() error {
			ssar := &authv1.SelfSubjectAccessReview{Spec: authv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authv1.ResourceAttributes{Group: k.group, Resource: k.resource, Namespace: k.namespace, Verb: k.verb},
			}}
			res, err := env.Kube.AuthorizationV1().SelfSubjectAccessReviews().Create(gctx, ssar, metav1.CreateOptions{})
			if err != nil {
				return fmt.Errorf("access review for %s %s: %w", k.verb, k.resource, err)
			}
			if !res.Status.Allowed {
				mu.Lock()
				missing = append(missing, describe(k))
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		c.Detail = err.Error()
		r.add(c)
		return
	}
	sort.Strings(missing)
	if len(keys) == 0 {
		c.OK, c.Detail = true, "nothing to write"
		r.add(c)
		return
	}
	if len(missing) == 0 {
		c.OK, c.Detail = true, fmt.Sprintf("%s allowed on all %d planned kinds", strings.Join(AccessVerbs, ", "), len(keys)/len(AccessVerbs))
	} else {
		c.Detail = "missing: " + strings.Join(missing, "; ")
		c.Fix = "ask a cluster admin for these permissions (or to run setup); `kubectl auth can-i --list` shows yours"
	}
	r.add(c)
}

func describe(k accessKey) string {
	res := k.resource
	if k.group != "" {
		res += "." + k.group
	}
	if k.namespace != "" {
		return fmt.Sprintf("%s %s in %s", k.verb, res, k.namespace)
	}
	return fmt.Sprintf("%s %s (cluster-wide)", k.verb, res)
}
