package gcpfake

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// project looks a project up by ID or number; s.mu is held.
func (s *Server) project(idOrNumber string) *project {
	if p := s.projects[idOrNumber]; p != nil {
		return p
	}
	for _, p := range s.projects {
		if strconv.FormatInt(p.number, 10) == idOrNumber {
			return p
		}
	}
	return nil
}

func (s *Server) projectOrDenied(id, permission string) (*project, *apiError) {
	p := s.project(id)
	if p == nil {
		// Google does not reveal whether a project exists to a caller
		// without access.
		e := errf(403, "PERMISSION_DENIED", "The caller does not have permission")
		e.Permission, e.Reason, e.Domain = permission, "IAM_PERMISSION_DENIED", "cloudresourcemanager.googleapis.com"
		return nil, e
	}
	return p, nil
}

func (s *Server) getProject(ver, id string) (any, *apiError) {
	p, err := s.projectOrDenied(id, "resourcemanager.projects.get")
	if err != nil {
		return nil, err
	}
	num := strconv.FormatInt(p.number, 10)
	if ver == "v3" {
		return map[string]any{"name": "projects/" + num, "projectId": p.id, "state": "ACTIVE",
			"displayName": p.id, "parent": "organizations/1", "etag": p.policy.Etag}, nil
	}
	return map[string]any{"projectNumber": num, "projectId": p.id, "lifecycleState": "ACTIVE",
		"name": p.id, "parent": map[string]string{"type": "organization", "id": "1"}}, nil
}

func (s *Server) getProjectPolicy(id string, r *request) (any, *apiError) {
	p, err := s.projectOrDenied(id, "resourcemanager.projects.getIamPolicy")
	if err != nil {
		return nil, err
	}
	return asVersion(p.policy, requestedVersion(r)), nil
}

func (s *Server) setProjectPolicy(id string, r *request) (any, *apiError) {
	p, err := s.projectOrDenied(id, "resourcemanager.projects.setIamPolicy")
	if err != nil {
		return nil, err
	}
	return s.writePolicy(&p.policy, r)
}

// requestedVersion reads options.requestedPolicyVersion from the body or the
// query (IAM's getIamPolicy takes it as a query parameter).
func requestedVersion(r *request) int {
	if v, err := strconv.Atoi(r.query.Get("options.requestedPolicyVersion")); err == nil {
		return v
	}
	var opts struct {
		RequestedPolicyVersion int `json:"requestedPolicyVersion"`
	}
	if raw, ok := r.body["options"]; ok {
		_ = json.Unmarshal(raw, &opts)
	}
	return opts.RequestedPolicyVersion
}

// writePolicy is the setIamPolicy semantics shared by projects and service
// accounts: etag check, validation, update mask, new etag.
func (s *Server) writePolicy(stored *Policy, r *request) (any, *apiError) {
	if s.concurrentWrites > 0 {
		s.concurrentWrites--
		stored.Bindings = normalize(append(stored.Bindings, Binding{Role: "roles/viewer",
			Members: []string{fmt.Sprintf("user:concurrent-%d@example.com", s.seq)}}))
		stored.Etag = s.nextEtag()
	}
	var in Policy
	if err := json.Unmarshal(r.body["policy"], &in); err != nil || r.body["policy"] == nil {
		return nil, invalidArgument("Invalid JSON payload: field \"policy\" is required.")
	}
	if in.Etag != "" && in.Etag != stored.Etag {
		return nil, errf(409, "ABORTED", "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.")
	}
	if err := checkPolicy(&in, stored, s.memberOK); err != nil {
		return nil, err
	}
	mask := "bindings,etag"
	if raw, ok := r.body["updateMask"]; ok {
		_ = json.Unmarshal(raw, &mask)
	}
	if strings.Contains(mask, "auditConfigs") {
		stored.AuditConfigs = in.AuditConfigs
	}
	if strings.Contains(mask, "bindings") {
		stored.Bindings = normalize(in.Bindings)
	}
	stored.Version = asVersion(*stored, 3).Version
	stored.Etag = s.nextEtag()
	return asVersion(*stored, 3), nil
}

// memberOK checks that a member names something that exists: service
// accounts of known projects, and workload identity pools that are enabled.
func (s *Server) memberOK(m string) *apiError {
	if err := memberSyntaxOK(m); err != nil {
		return err
	}
	if sm := ksaMemberRE.FindStringSubmatch(m); sm != nil {
		return s.poolOK(sm[1], 0)
	}
	if sm := principalRE.FindStringSubmatch(m); sm != nil {
		num, _ := strconv.ParseInt(sm[1], 10, 64)
		return s.poolOK(sm[2], num)
	}
	email, ok := strings.CutPrefix(m, "serviceAccount:")
	if !ok {
		return nil
	}
	_, domain, _ := strings.Cut(email, "@")
	for _, p := range s.projects {
		if emailDomain(p.id) != domain {
			continue
		}
		if p.accounts[email] == nil || s.consumeStale(email) {
			return invalidArgument(fmt.Sprintf("Service account %s does not exist.", email))
		}
	}
	return nil
}

// poolOK checks a GKE workload identity pool PROJECT_ID.svc.id.goog, and that
// a principal:// member's project number owns it.
func (s *Server) poolOK(pool string, number int64) *apiError {
	var p *project
	for _, q := range s.projects {
		if q.pool == pool {
			p = q
		}
	}
	if p == nil || !p.workloadIdentity || (number != 0 && number != p.number) {
		return invalidArgument(fmt.Sprintf("Identity Pool does not exist (%s). Please check that you specified a valid resource name as returned in the `name` attribute in the configuration API.", pool))
	}
	return nil
}
