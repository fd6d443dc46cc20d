package doctor

import (
	"context"
	"errors"
	"fmt"

	authv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// perm is a Kubernetes permission a check needs.
type perm struct {
	verb, group, resource, subresource, namespace string
}

func (p perm) String() string {
	res := p.resource
	if p.subresource != "" {
		res += "/" + p.subresource
	}
	if p.group != "" {
		res += "." + p.group
	}
	if p.namespace == "" {
		return p.verb + " " + res + " (cluster-wide)"
	}
	return p.verb + " " + res + " in " + p.namespace
}

// can asks the apiserver (a SelfSubjectAccessReview, once per permission)
// whether the user holds p. When the review itself fails, it answers true
// and lets the read show what happens.
func (s *state) can(ctx context.Context, p perm) bool {
	allowed, _ := s.access.get(p.String(), func() (bool, error) {
		r, err := s.env.Kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authv1.SelfSubjectAccessReview{
			Spec: authv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authv1.ResourceAttributes{
				Verb: p.verb, Group: p.group, Resource: p.resource, Subresource: p.subresource, Namespace: p.namespace,
			}},
		}, metav1.CreateOptions{})
		if err != nil {
			return true, nil
		}
		return r.Status.Allowed, nil
	})
	return allowed
}

// denied is the skip verdict of a check the user may not run.
func denied(link, id string, p perm) Check {
	return skip(link, id, "you may not %s (ask for it to run this check; `kubectl auth can-i %s %s` shows it)", p, p.verb, canIResource(p))
}

func canIResource(p perm) string {
	res := p.resource
	if p.group != "" {
		res += "." + p.group
	}
	if p.subresource != "" {
		res += " --subresource=" + p.subresource
	}
	if p.namespace != "" {
		res += " -n " + p.namespace
	}
	return res
}

// readErr turns a failed read into a verdict: skip for a forbidden one,
// FAIL otherwise.
func readErr(link, id string, p perm, err error) Check {
	if apierrors.IsForbidden(err) || errors.Is(err, errForbidden) {
		return denied(link, id, p)
	}
	return fail(link, id, "check that the cluster is reachable and rerun", "cannot %s: %v", p, err)
}

var errForbidden = fmt.Errorf("forbidden")
