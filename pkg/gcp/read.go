package gcp

import (
	"context"
	"slices"

	crm "google.golang.org/api/cloudresourcemanager/v1"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
)

// Grants is a read policy: who holds which role unconditionally.
type Grants struct {
	policy *crm.Policy
}

// Has says whether member holds role through an unconditional binding
// (conditional grants are not what the adapter can rely on).
func (g Grants) Has(role, member string) bool {
	if g.policy == nil {
		return false
	}
	for _, b := range g.policy.Bindings {
		if b.Role == role && b.Condition == nil && slices.Contains(b.Members, member) {
			return true
		}
	}
	return false
}

// Members lists the unconditional members of role.
func (g Grants) Members(role string) []string {
	var out []string
	if g.policy == nil {
		return nil
	}
	for _, b := range g.policy.Bindings {
		if b.Role == role && b.Condition == nil {
			out = append(out, b.Members...)
		}
	}
	return out
}

// ProjectGrants reads the project's IAM policy (version 3). It only reads;
// errors are *Error (KindPermissionDenied names the permission).
func (c *Client) ProjectGrants(ctx context.Context, projectID string) (Grants, error) {
	r := c.projectResource(projectID)
	return c.readGrants(ctx, r, projectID)
}

// ServiceAccountGrants reads the IAM policy of a Google service account.
func (c *Client) ServiceAccountGrants(ctx context.Context, projectID, email string) (Grants, error) {
	return c.readGrants(ctx, c.serviceAccountResource(projectID, email), projectID)
}

func (c *Client) readGrants(ctx context.Context, r resource, projectID string) (Grants, error) {
	cfg := identity.Config{ProjectID: projectID}.WithDefaults()
	var p *crm.Policy
	err := c.call(ctx, "getIamPolicy on "+r.name, r.getPerm, cfg, func() error {
		var err error
		p, err = r.get(ctx)
		return err
	})
	return Grants{policy: p}, err
}

// ServiceAccountExists reads a Google service account: false with a nil
// error when it does not exist.
func (c *Client) ServiceAccountExists(ctx context.Context, projectID, email string) (bool, error) {
	cfg := identity.Config{ProjectID: projectID}.WithDefaults()
	err := c.call(ctx, "get "+saName(projectID, email), "iam.serviceAccounts.get", cfg, func() error {
		_, err := c.iam.Projects.ServiceAccounts.Get(saName(projectID, email)).Context(ctx).Do()
		return err
	})
	if statusOf(unwrapAPI(err)) == 404 {
		return false, nil
	}
	return err == nil, err
}
