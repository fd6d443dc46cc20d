package gcp

import (
	"context"
	"strings"
	"time"

	iam "google.golang.org/api/iam/v1"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
)

// Ensure gives the adapter's identity roles/monitoring.viewer on the project
// the way cfg.Mode says, changing only what is missing: a second run makes
// no setIamPolicy call. The report lists every step; on error it lists what
// was changed before the failure (and the error says it too).
func (c *Client) Ensure(ctx context.Context, cfg identity.Config) (Report, error) {
	return c.run(ctx, cfg, c.principal(false), c.ensureGSA)
}

// Remove undoes Ensure: it revokes exactly our grants (nobody else's, no
// conditional binding) and deletes the Google service account only if this
// tool created it; otherwise it only revokes the KSA's impersonation grant on
// it. Running it again changes nothing.
func (c *Client) Remove(ctx context.Context, cfg identity.Config) (Report, error) {
	return c.run(ctx, cfg, c.principal(true), c.removeGSA)
}

type step func(ctx context.Context, cfg identity.Config, rep *Report) error

func (c *Client) run(ctx context.Context, cfg identity.Config, principal, gsa step) (Report, error) {
	cfg = cfg.WithDefaults()
	rep := Report{Mode: cfg.Mode}
	if err := cfg.Validate(); err != nil || cfg.Mode == identity.ModeNone {
		return rep, err
	}
	do := principal
	if cfg.Mode == identity.ModeGSA {
		do = gsa
	}
	if err := do(ctx, cfg, &rep); err != nil {
		return rep, rep.failed(err)
	}
	return rep, nil
}

// principal is the principal-mode step: it grants (or, with remove,
// revokes) roles/monitoring.viewer on the project to the adapter's KSA as a
// Workload Identity Federation principal.
func (c *Client) principal(remove bool) step {
	edit, action := addMember, ActionGranted
	if remove {
		edit, action = removeMember, ActionRevoked
	}
	return func(ctx context.Context, cfg identity.Config, rep *Report) error {
		if err := c.resolveNumber(ctx, &cfg, rep); err != nil {
			return err
		}
		member := cfg.PrincipalMember()
		r := c.projectResource(cfg.ProjectID)
		changed, err := c.update(ctx, r, cfg, func(p *policy) bool { return edit(p, RoleMonitoringViewer, member) })
		if err != nil {
			return err
		}
		rep.policy(changed, action, r.name, RoleMonitoringViewer, member)
		return nil
	}
}

// ProjectNumber looks a project's number up through Cloud Resource Manager
// (what --print-gcloud in principal mode needs when credentials exist).
func (c *Client) ProjectNumber(ctx context.Context, projectID string) (int64, error) {
	cfg := identity.Config{Mode: identity.ModePrincipal, ProjectID: projectID}.WithDefaults()
	err := c.resolveNumber(ctx, &cfg, &Report{})
	return cfg.ProjectNumber, err
}

// resolveNumber looks the number of the pool's project (the cluster's) up
// through Cloud Resource Manager unless cfg has it.
func (c *Client) resolveNumber(ctx context.Context, cfg *identity.Config, rep *Report) error {
	if cfg.ProjectNumber == 0 {
		project := cfg.PoolProject()
		err := c.call(ctx, "get projects/"+project, "resourcemanager.projects.get", *cfg, func() error {
			p, err := c.crm.Projects.Get(project).Context(ctx).Do()
			if err == nil {
				cfg.ProjectNumber = p.ProjectNumber
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	rep.ProjectNumber = cfg.ProjectNumber
	return nil
}

func (c *Client) ensureGSA(ctx context.Context, cfg identity.Config, rep *Report) error {
	rep.GSAEmail = cfg.GSAEmail()
	email, fresh, err := c.ensureServiceAccount(ctx, cfg, rep)
	if err != nil {
		return err
	}
	// From here on, the e-mail is IAM's, not ours.
	cfg.GSA, rep.GSAEmail = email, email
	// The impersonation grant first: it is what fails when the cluster has
	// no Workload Identity, before the project policy is touched.
	sr := c.serviceAccountResource(cfg.ProjectID, cfg.GSAEmail())
	sr.fresh = fresh
	changed, err := c.update(ctx, sr, cfg, func(p *policy) bool { return addMember(p, RoleWorkloadIdentityUser, cfg.KSAMember()) })
	if err != nil {
		return err
	}
	rep.policy(changed, ActionGranted, sr.name, RoleWorkloadIdentityUser, cfg.KSAMember())
	pr := c.projectResource(cfg.ProjectID)
	changed, err = c.update(ctx, pr, cfg, func(p *policy) bool { return addMember(p, RoleMonitoringViewer, cfg.GSAMember()) })
	if err != nil {
		return err
	}
	rep.policy(changed, ActionGranted, pr.name, RoleMonitoringViewer, cfg.GSAMember())
	return nil
}

// ensureServiceAccount gets or creates the GSA and returns its e-mail as
// IAM reports it and whether it is new (and so may not be visible
// everywhere yet).
func (c *Client) ensureServiceAccount(ctx context.Context, cfg identity.Config, rep *Report) (string, bool, error) {
	name := saName(cfg.ProjectID, cfg.GSAEmail())
	sa, err := c.getServiceAccount(ctx, cfg)
	if err != nil || sa != nil {
		if sa != nil {
			rep.add(Change{Action: ActionUnchanged, Resource: saName(cfg.ProjectID, emailOf(sa, cfg)), Note: ownership(sa)})
			return emailOf(sa, cfg), false, nil
		}
		return "", false, err
	}
	req := &iam.CreateServiceAccountRequest{AccountId: cfg.GSAName,
		ServiceAccount: &iam.ServiceAccount{DisplayName: gsaDisplayName, Description: gsaDescription}}
	err = c.call(ctx, "create "+name, "iam.serviceAccounts.create", cfg, func() error {
		var err error
		sa, err = c.iam.Projects.ServiceAccounts.Create("projects/"+cfg.ProjectID, req).Context(ctx).Do()
		return err
	})
	switch {
	case err != nil && isAlreadyExists(unwrapAPI(err)):
		// Created concurrently by someone else: adopt it.
		rep.add(Change{Action: ActionUnchanged, Resource: name, Note: "created concurrently; adopted"})
	case err != nil:
		return "", false, err
	default:
		cfg.GSA = emailOf(sa, cfg)
		rep.add(Change{Action: ActionCreated, Resource: saName(cfg.ProjectID, cfg.GSA)})
	}
	return cfg.GSAEmail(), true, c.waitReadable(ctx, cfg)
}

// emailOf is the e-mail IAM gave the account, or the built one if the
// answer lacks it.
func emailOf(sa *iam.ServiceAccount, cfg identity.Config) string {
	if sa != nil && sa.Email != "" {
		return sa.Email
	}
	return cfg.GSAEmail()
}

func ownership(sa *iam.ServiceAccount) string {
	note := "existing account adopted; cleanup will keep it"
	if strings.Contains(sa.Description, createdByMarker) {
		note = "created by kubectl infer-hpa"
	}
	if sa.Disabled {
		note += "; DISABLED, the adapter cannot use it until `gcloud iam service-accounts enable " + sa.Email + "`"
	}
	return note
}

// getServiceAccount returns nil, nil when the account does not exist.
func (c *Client) getServiceAccount(ctx context.Context, cfg identity.Config) (*iam.ServiceAccount, error) {
	name := saName(cfg.ProjectID, cfg.GSAEmail())
	var sa *iam.ServiceAccount
	err := c.call(ctx, "get "+name, "iam.serviceAccounts.get", cfg, func() error {
		var err error
		sa, err = c.iam.Projects.ServiceAccounts.Get(name).Context(ctx).Do()
		return err
	})
	if statusOf(unwrapAPI(err)) == 404 {
		return nil, nil
	}
	return sa, err
}

// waitReadable waits until a new service account answers Wait.Reads
// consecutive reads; the 403/404 in between are IAM's eventual consistency.
func (c *Client) waitReadable(ctx context.Context, cfg identity.Config) error {
	w, def := c.Wait, DefaultWait()
	if w.Reads <= 0 {
		w.Reads = def.Reads
	}
	w.Interval = orDur(w.Interval, def.Interval)
	w.Budget = orDur(w.Budget, def.Budget)
	if w.Sleep == nil {
		w.Sleep = sleepCtx
	}
	name := saName(cfg.ProjectID, cfg.GSAEmail())
	var slept time.Duration
	var last error
	for good := 0; ; {
		_, err := c.iam.Projects.ServiceAccounts.Get(name).Context(ctx).Do()
		switch {
		case err == nil:
			good++
		case isNotYetVisible(err) || retryable(err):
			good, last = 0, err
		default:
			return classify(err, "get "+name, "iam.serviceAccounts.get", cfg)
		}
		if good >= w.Reads {
			return nil
		}
		if slept+w.Interval > w.Budget {
			return &Error{Kind: KindNotConsistent, Op: "wait for new " + name, Err: last,
				Fix: "IAM has not made the new account consistently readable in " + slept.String() + "; run the command again in a minute"}
		}
		if err := w.Sleep(ctx, w.Interval); err != nil {
			return err
		}
		slept += w.Interval
	}
}

func (c *Client) removeGSA(ctx context.Context, cfg identity.Config, rep *Report) error {
	// The account first, for its e-mail as IAM has it.
	sa, err := c.getServiceAccount(ctx, cfg)
	if err != nil {
		return err
	}
	if sa != nil {
		cfg.GSA = emailOf(sa, cfg)
	}
	rep.GSAEmail = cfg.GSAEmail()
	// The project grant before the account, so deleting the account leaves
	// no "deleted:serviceAccount:…" member behind.
	pr := c.projectResource(cfg.ProjectID)
	changed, err := c.update(ctx, pr, cfg, func(p *policy) bool { return removeMember(p, RoleMonitoringViewer, cfg.GSAMember()) })
	if err != nil {
		return err
	}
	rep.policy(changed, ActionRevoked, pr.name, RoleMonitoringViewer, cfg.GSAMember())
	if sa == nil {
		return nil
	}
	name := saName(cfg.ProjectID, cfg.GSAEmail())
	if strings.Contains(sa.Description, createdByMarker) {
		err := c.call(ctx, "delete "+name, "iam.serviceAccounts.delete", cfg, func() error {
			_, err := c.iam.Projects.ServiceAccounts.Delete(name).Context(ctx).Do()
			return err
		})
		if err != nil && statusOf(unwrapAPI(err)) != 404 {
			return err
		}
		rep.add(Change{Action: ActionDeleted, Resource: name})
		return nil
	}
	sr := c.serviceAccountResource(cfg.ProjectID, cfg.GSAEmail())
	changed, err = c.update(ctx, sr, cfg, func(p *policy) bool { return removeMember(p, RoleWorkloadIdentityUser, cfg.KSAMember()) })
	if err != nil {
		return err
	}
	rep.policy(changed, ActionRevoked, sr.name, RoleWorkloadIdentityUser, cfg.KSAMember())
	rep.add(Change{Action: ActionKept, Resource: name, Note: "not created by kubectl infer-hpa"})
	return nil
}

// call runs one API call with retries and classifies its error.
func (c *Client) call(ctx context.Context, op, permission string, cfg identity.Config, fn func() error) error {
	return c.Retry.do(ctx, op, func() error {
		return classify(fn(), op, permission, cfg)
	}, func(err error) bool { return retryable(unwrapAPI(err)) })
}
