package gcp

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	crm "google.golang.org/api/cloudresourcemanager/v1"
	iam "google.golang.org/api/iam/v1"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
)

// policyVersion is the IAM policy version we read and write: the only one
// that carries conditional bindings, so nobody's conditions are lost.
const policyVersion = 3

// policy is the in-memory form of both APIs' policies.
type policy = crm.Policy

// resource is an IAM policy holder (a project or a service account). The
// policies of both APIs have the same JSON shape, so both are handled as
// Cloud Resource Manager policies.
type resource struct {
	name             string // "projects/my-project"
	getPerm, setPerm string
	get              func(ctx context.Context) (*crm.Policy, error)
	set              func(ctx context.Context, p *crm.Policy) error
	// fresh marks a service account created moments ago: 403/404 answers
	// are IAM's eventual consistency and are retried.
	fresh bool
}

func (c *Client) projectResource(projectID string) resource {
	return resource{
		name:    "projects/" + projectID,
		getPerm: "resourcemanager.projects.getIamPolicy",
		setPerm: "resourcemanager.projects.setIamPolicy",
		get: func(ctx context.Context) (*crm.Policy, error) {
			req := &crm.GetIamPolicyRequest{Options: &crm.GetPolicyOptions{RequestedPolicyVersion: policyVersion}}
			return c.crm.Projects.GetIamPolicy(projectID, req).Context(ctx).Do()
		},
		set: func(ctx context.Context, p *crm.Policy) error {
			_, err := c.crm.Projects.SetIamPolicy(projectID, &crm.SetIamPolicyRequest{Policy: p}).Context(ctx).Do()
			return err
		},
	}
}

func (c *Client) serviceAccountResource(projectID, email string) resource {
	name := saName(projectID, email)
	return resource{
		name:    name,
		getPerm: "iam.serviceAccounts.getIamPolicy",
		setPerm: "iam.serviceAccounts.setIamPolicy",
		get: func(ctx context.Context) (*crm.Policy, error) {
			p, err := c.iam.Projects.ServiceAccounts.GetIamPolicy(name).OptionsRequestedPolicyVersion(policyVersion).Context(ctx).Do()
			if err != nil {
				return nil, err
			}
			out := &crm.Policy{}
			return out, convert(p, out)
		},
		set: func(ctx context.Context, p *crm.Policy) error {
			in := &iam.Policy{}
			if err := convert(p, in); err != nil {
				return err
			}
			_, err := c.iam.Projects.ServiceAccounts.SetIamPolicy(name, &iam.SetIamPolicyRequest{Policy: in}).Context(ctx).Do()
			return err
		},
	}
}

func saName(projectID, email string) string {
	return "projects/" + projectID + "/serviceAccounts/" + email
}

// convert copies between the two APIs' identically shaped policy types.
func convert(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, to)
}

// update is the safe read-modify-write: read the policy at version 3, let
// mutate change it (it returns false when nothing needs changing, and then
// nothing is written), write it back with the etag read, and on a
// concurrent change start over from a fresh read.
func (c *Client) update(ctx context.Context, r resource, cfg identity.Config, mutate func(*crm.Policy) bool) (changed bool, err error) {
	err = c.Retry.do(ctx, "setIamPolicy on "+r.name, func() error {
		p, err := r.get(ctx)
		if err != nil {
			return classify(err, "getIamPolicy on "+r.name, r.getPerm, cfg)
		}
		if !mutate(p) {
			return nil
		}
		p.Version = policyVersion
		if err := r.set(ctx, p); err != nil {
			return classify(err, "setIamPolicy on "+r.name, r.setPerm, cfg)
		}
		changed = true
		return nil
	}, func(err error) bool {
		if r.fresh && isNotYetVisible(err) {
			return true
		}
		return retryableSet(unwrapAPI(err))
	})
	return changed, err
}

// isNotYetVisible: the 403/404 a just-created service account answers
// while IAM replicates it.
func isNotYetVisible(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		err = e.Err
	}
	code := statusOf(err)
	return code == 403 || code == 404
}

// unwrapAPI returns the API error inside a classified *Error.
func unwrapAPI(err error) error {
	if e, ok := err.(*Error); ok && e.Kind == KindAPI {
		return e.Err
	}
	return err
}

// addMember grants role to member through an unconditional binding unless
// one already does. Conditional bindings are never touched: a conditional
// grant is someone else's decision and not what the adapter needs.
func addMember(p *crm.Policy, role, member string) bool {
	for _, b := range p.Bindings {
		if b.Role == role && b.Condition == nil {
			if slices.Contains(b.Members, member) {
				return false
			}
			b.Members = append(b.Members, member)
			return true
		}
	}
	p.Bindings = append(p.Bindings, &crm.Binding{Role: role, Members: []string{member}})
	return true
}

// removeMember revokes exactly member's unconditional grant of role and
// drops the binding if it becomes empty.
func removeMember(p *crm.Policy, role, member string) bool {
	for i, b := range p.Bindings {
		if b.Role != role || b.Condition != nil {
			continue
		}
		j := slices.Index(b.Members, member)
		if j < 0 {
			continue
		}
		b.Members = slices.Delete(b.Members, j, j+1)
		if len(b.Members) == 0 {
			p.Bindings = slices.Delete(p.Bindings, i, i+1)
		}
		return true
	}
	return false
}
