package gcpfake

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

var accountIDRE = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])$`)

type staleState struct{ after, n int }

// consumeStale consumes one read of a service account and reports whether
// it is answered as not (yet) existing; s.mu is held.
func (s *Server) consumeStale(email string) bool {
	st := s.staleState[email]
	if st == nil {
		return false
	}
	if st.after > 0 {
		st.after--
		return false
	}
	if st.n > 0 {
		st.n--
		return true
	}
	return false
}

func (s *Server) staleError(email, permission string) *apiError {
	if s.staleCode == 403 {
		e := errf(403, "PERMISSION_DENIED", fmt.Sprintf("Permission '%s' denied on resource (or it may not exist).", permission))
		e.Permission, e.Reason, e.Domain = permission, "IAM_PERMISSION_DENIED", "iam.googleapis.com"
		return e
	}
	return notFound(fmt.Sprintf("Unknown service account %s", email))
}

// lookupSA resolves projects/{project}/serviceAccounts/{email or uniqueId};
// project may be "-".
func (s *Server) lookupSA(projectID, key, permission string) (*project, *account, *apiError) {
	for _, p := range s.projects {
		if projectID != "-" && p.id != projectID && fmt.Sprint(p.number) != projectID {
			continue
		}
		for email, a := range p.accounts {
			if email != key && a.sa.UniqueID != key {
				continue
			}
			if s.consumeStale(email) {
				return nil, nil, s.staleError(email, permission)
			}
			return p, a, nil
		}
	}
	if projectID != "-" && s.project(projectID) == nil {
		return nil, nil, notFound(fmt.Sprintf("Project %s not found.", projectID))
	}
	return nil, nil, notFound(fmt.Sprintf("Unknown service account %s", key))
}

func (s *Server) createSA(projectID string, r *request) (any, *apiError) {
	p := s.project(projectID)
	if p == nil {
		return nil, notFound(fmt.Sprintf("Project %s not found.", projectID))
	}
	var in struct {
		AccountID      string         `json:"accountId"`
		ServiceAccount ServiceAccount `json:"serviceAccount"`
	}
	raw, _ := json.Marshal(r.body)
	_ = json.Unmarshal(raw, &in)
	if len(in.AccountID) < 6 || len(in.AccountID) > 30 || !accountIDRE.MatchString(in.AccountID) {
		return nil, invalidArgument(fmt.Sprintf("Invalid value for field 'accountId': '%s'. Service account ID must be between 6 and 30 characters.; Service account ID must start with a lower case letter, followed by one or more lower case alphanumerical characters that can be separated by hyphens.", in.AccountID))
	}
	if len(in.ServiceAccount.DisplayName) > 100 || len(in.ServiceAccount.Description) > 256 {
		return nil, invalidArgument("Display name must be at most 100 characters and description at most 256.")
	}
	email := in.AccountID + "@" + emailDomain(p.id)
	if p.accounts[email] != nil {
		return nil, errf(409, "ALREADY_EXISTS", fmt.Sprintf("Service account %s already exists within project projects/%s.", in.AccountID, p.id))
	}
	s.seq++
	uid := fmt.Sprintf("1%020d", s.seq*7919)
	a := &account{sa: ServiceAccount{
		Name: "projects/" + p.id + "/serviceAccounts/" + email, ProjectID: p.id, UniqueID: uid,
		Email: email, DisplayName: in.ServiceAccount.DisplayName, Description: in.ServiceAccount.Description,
		Etag: "MDEwMjE5MjA=", Oauth2ClientID: uid,
	}, policy: Policy{Version: 1, Etag: s.nextEtag()}}
	p.accounts[email] = a
	if s.staleN > 0 {
		s.staleState[email] = &staleState{after: s.staleAfter, n: s.staleN}
	}
	return a.sa, nil
}

// emailDomain is the part of a service account e-mail after "@":
// PROJECT_ID.iam.gserviceaccount.com, and for a domain-scoped project
// "example.com:proj", proj.example.com.iam.gserviceaccount.com.
func emailDomain(projectID string) string {
	if domain, name, ok := strings.Cut(projectID, ":"); ok {
		return name + "." + domain + ".iam.gserviceaccount.com"
	}
	return projectID + ".iam.gserviceaccount.com"
}

func (s *Server) listSAs(projectID string) (any, *apiError) {
	p := s.project(projectID)
	if p == nil {
		return nil, notFound(fmt.Sprintf("Project %s not found.", projectID))
	}
	emails := make([]string, 0, len(p.accounts))
	for e := range p.accounts {
		emails = append(emails, e)
	}
	slices.Sort(emails)
	out := []ServiceAccount{}
	for _, e := range emails {
		out = append(out, p.accounts[e].sa)
	}
	return map[string]any{"accounts": out}, nil
}

func (s *Server) getSA(projectID, key string) (any, *apiError) {
	_, a, err := s.lookupSA(projectID, key, "iam.serviceAccounts.get")
	if err != nil {
		return nil, err
	}
	return a.sa, nil
}

func (s *Server) deleteSA(projectID, key string) (any, *apiError) {
	p, a, err := s.lookupSA(projectID, key, "iam.serviceAccounts.delete")
	if err != nil {
		return nil, err
	}
	delete(p.accounts, a.sa.Email)
	// IAM keeps the deleted account's grants as deleted:… members.
	member := "serviceAccount:" + a.sa.Email
	gone := "deleted:" + member + "?uid=" + a.sa.UniqueID
	for _, q := range s.projects {
		changed := false
		for i, b := range q.policy.Bindings {
			if j := slices.Index(b.Members, member); j >= 0 {
				q.policy.Bindings[i].Members[j] = gone
				changed = true
			}
		}
		if changed {
			q.policy.Bindings = normalize(q.policy.Bindings)
			q.policy.Etag = s.nextEtag()
		}
	}
	return map[string]any{}, nil
}

func (s *Server) getSAPolicy(projectID, key string, r *request) (any, *apiError) {
	_, a, err := s.lookupSA(projectID, key, "iam.serviceAccounts.getIamPolicy")
	if err != nil {
		return nil, err
	}
	return asVersion(a.policy, requestedVersion(r)), nil
}

func (s *Server) setSAPolicy(projectID, key string, r *request) (any, *apiError) {
	_, a, err := s.lookupSA(projectID, key, "iam.serviceAccounts.setIamPolicy")
	if err != nil {
		return nil, err
	}
	return s.writePolicy(&a.policy, r)
}
