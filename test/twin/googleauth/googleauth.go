// Package googleauth is the twin's view of Google identity: the access
// tokens its GKE metadata servers hand out (Tokens) and what the local IAM
// policy (test/gcpfake, read over its debug API) lets each identity do
// (Policies). The local Cloud Monitoring API and the metadata servers share
// one Tokens, so a token names exactly the identity it was minted for.
package googleauth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Tokens maps the access tokens handed out to the member they stand for
// ("serviceAccount:…", "principal://…"). Safe for concurrent use.
type Tokens struct {
	mu     sync.Mutex
	member map[string]token
}

type token struct {
	member  string
	expires time.Time
}

// NewTokens returns an empty registry.
func NewTokens() *Tokens { return &Tokens{member: map[string]token{}} }

// Mint returns a new opaque access token for member, valid for ttl.
func (t *Tokens) Mint(member string, ttl time.Duration) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "ya29.twin-" + hex.EncodeToString(b)
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	for k, v := range t.member {
		if now.After(v.expires) {
			delete(t.member, k)
		}
	}
	t.member[tok] = token{member: member, expires: now.Add(ttl)}
	return tok
}

// Member is the identity of a bearer token, or false when the token is
// unknown or expired.
func (t *Tokens) Member(tok string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.member[tok]
	if !ok || time.Now().After(v.expires) {
		return "", false
	}
	return v.member, true
}

// Binding and Policy are the parts of an IAM policy the twin reads.
type Binding struct {
	Role      string          `json:"role"`
	Members   []string        `json:"members"`
	Condition json.RawMessage `json:"condition,omitempty"`
}

// Policy is an IAM policy.
type Policy struct {
	Bindings []Binding `json:"bindings"`
}

// ServiceAccount is what the twin needs to know of a Google service account.
type ServiceAccount struct {
	Email    string `json:"email"`
	Disabled bool   `json:"disabled"`
}

// Project is a project's policy and its service accounts with theirs.
type Project struct {
	Policy   Policy
	Accounts map[string]Account
}

// Account is a service account and its own policy.
type Account struct {
	ServiceAccount ServiceAccount `json:"serviceAccount"`
	Policy         Policy         `json:"policy"`
}

// Policies reads projects from the local Google API server
// (GET /_gcpfake/v1/projects/ID), fresh on every call, so that a grant or
// a removal is seen at once.
type Policies struct {
	// BaseURL is the local Google API server, "http://127.0.0.1:PORT/".
	BaseURL string
	Client  *http.Client
}

// Project reads one project.
func (p *Policies) Project(ctx context.Context, id string) (*Project, error) {
	c := p.Client
	if c == nil {
		c = &http.Client{Timeout: 5 * time.Second}
	}
	u := strings.TrimSuffix(p.BaseURL, "/") + "/_gcpfake/v1/projects/" + url.PathEscape(id)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("local Google API server: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("local Google API server: %s", resp.Status)
	}
	var out struct {
		Policy          Policy             `json:"policy"`
		ServiceAccounts map[string]Account `json:"serviceAccounts"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("local Google API server: %w", err)
	}
	return &Project{Policy: out.Policy, Accounts: out.ServiceAccounts}, nil
}

// Grants tells whether the policy gives member role through an
// unconditional binding.
func (p Policy) Grants(member, role string) bool {
	for _, b := range p.Bindings {
		if b.Role == role && len(b.Condition) == 0 && slices.Contains(b.Members, member) {
			return true
		}
	}
	return false
}

// Allows tells whether the policy gives member a role that holds
// permission (unconditional bindings; the predefined roles in
// rolePermissions, and a custom role named after the permission's service
// is not modelled).
func (p Policy) Allows(member, permission string) bool {
	for _, b := range p.Bindings {
		if len(b.Condition) == 0 && slices.Contains(b.Members, member) && roleHolds(b.Role, permission) {
			return true
		}
	}
	return false
}

// monitoringRead are the permissions of roles/monitoring.viewer the
// adapter and doctor use.
var monitoringRead = []string{
	"monitoring.metricDescriptors.get", "monitoring.metricDescriptors.list",
	"monitoring.monitoredResourceDescriptors.get", "monitoring.monitoredResourceDescriptors.list",
	"monitoring.timeSeries.list",
}

func roleHolds(role, permission string) bool {
	switch role {
	case "roles/owner", "roles/editor", "roles/viewer",
		"roles/monitoring.viewer", "roles/monitoring.editor", "roles/monitoring.admin":
		return slices.Contains(monitoringRead, permission)
	}
	return false
}

// Pool is the Workload Identity pool of a project.
func Pool(project string) string { return project + ".svc.id.goog" }

// Principal is the Workload Identity Federation for GKE member of a
// Kubernetes service account.
func Principal(projectNumber int64, project, namespace, ksa string) string {
	return fmt.Sprintf("principal://iam.googleapis.com/projects/%d/locations/global/workloadIdentityPools/%s/subject/ns/%s/sa/%s",
		projectNumber, Pool(project), namespace, ksa)
}

// NamespacePrincipalSet is the member for every Kubernetes service account
// of a namespace.
func NamespacePrincipalSet(projectNumber int64, project, namespace string) string {
	return fmt.Sprintf("principalSet://iam.googleapis.com/projects/%d/locations/global/workloadIdentityPools/%s/namespace/%s",
		projectNumber, Pool(project), namespace)
}

// ComputeServiceAccount is the project's Compute Engine default service
// account, the identity of a GKE node.
func ComputeServiceAccount(projectNumber int64) string {
	return fmt.Sprintf("%d-compute@developer.gserviceaccount.com", projectNumber)
}
