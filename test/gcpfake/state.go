package gcpfake

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
)

// ProjectPolicy returns a copy of a project's policy (version 3 view).
func (s *Server) ProjectPolicy(projectID string) Policy {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.projects[projectID]; p != nil {
		return asVersion(p.policy, 3)
	}
	return Policy{}
}

// ServiceAccount returns a service account by e-mail.
func (s *Server) ServiceAccount(email string) (ServiceAccount, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.account(email); a != nil {
		return a.sa, true
	}
	return ServiceAccount{}, false
}

// ServiceAccountPolicy returns a copy of a service account's policy.
func (s *Server) ServiceAccountPolicy(email string) Policy {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.account(email); a != nil {
		return asVersion(a.policy, 3)
	}
	return Policy{}
}

// ServiceAccounts lists the e-mails of a project's service accounts, sorted.
func (s *Server) ServiceAccounts(projectID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.projects[projectID]; p != nil {
		return slices.Sorted(maps.Keys(p.accounts))
	}
	return nil
}

func (s *Server) account(email string) *account {
	for _, p := range s.projects {
		if a := p.accounts[email]; a != nil {
			return a
		}
	}
	return nil
}

// HasRole reports whether member holds role on the project through an
// unconditional binding.
func (s *Server) HasRole(projectID, member, role string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[projectID]
	return p != nil && grants(p.policy, member, role)
}

func grants(p Policy, member, role string) bool {
	for _, b := range p.Bindings {
		if b.Role == role && b.Condition == nil && slices.Contains(b.Members, member) {
			return true
		}
	}
	return false
}

// IdentityHasRole answers what a pod running as Kubernetes service account
// namespace/ksa on a cluster of projectID would be allowed: it holds role on
// the project directly (the principal:// member of Workload Identity
// Federation for GKE), or through gsa (the KSA's iam.gke.io/gcp-service-account
// annotation; empty for none) when the GSA holds role and lets the KSA
// impersonate it (roles/iam.workloadIdentityUser). It returns how ("principal"
// or "gsa") or "" when the identity lacks the role.
func (s *Server) IdentityHasRole(projectID, namespace, ksa, gsa, role string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[projectID]
	if p == nil || !p.workloadIdentity {
		return ""
	}
	pool := p.pool
	principal := fmt.Sprintf("principal://iam.googleapis.com/projects/%d/locations/global/workloadIdentityPools/%s/subject/ns/%s/sa/%s",
		p.number, pool, namespace, ksa)
	if grants(p.policy, principal, role) {
		return "principal"
	}
	a := s.account(gsa)
	if gsa == "" || a == nil || a.sa.Disabled || !grants(p.policy, "serviceAccount:"+gsa, role) {
		return ""
	}
	if grants(a.policy, fmt.Sprintf("serviceAccount:%s[%s/%s]", pool, namespace, ksa), "roles/iam.workloadIdentityUser") {
		return "gsa"
	}
	return ""
}

// serveDebug is the control and inspection API for processes that use the
// server over HTTP (the twin's stand-in adapter, demos):
//
//	GET  /_gcpfake/v1/identity?project=&namespace=&ksa=&gsa=&role=  → {"granted":bool,"via":…}
//	GET  /_gcpfake/v1/projects/ID  → project policy and service accounts with policies
//	POST /_gcpfake/v1/projects     {"id":…,"number":…,"workloadIdentity":bool}
//	POST /_gcpfake/v1/clusters     {"project":…,"location":…,"name":…,"workloadIdentity":bool}
//	POST /_gcpfake/v1/faults       a Fault
//	GET  /_gcpfake/v1/calls        call counts by method
func (s *Server) serveDebug(w http.ResponseWriter, r *http.Request) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_gcpfake/v1/identity", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		role := q.Get("role")
		if role == "" {
			role = "roles/monitoring.viewer"
		}
		via := s.IdentityHasRole(q.Get("project"), q.Get("namespace"), q.Get("ksa"), q.Get("gsa"), role)
		writeJSON(w, map[string]any{"granted": via != "", "via": via})
	})
	mux.HandleFunc("GET /_gcpfake/v1/projects/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		accounts := map[string]any{}
		for _, e := range s.ServiceAccounts(id) {
			sa, _ := s.ServiceAccount(e)
			accounts[e] = map[string]any{"serviceAccount": sa, "policy": s.ServiceAccountPolicy(e)}
		}
		writeJSON(w, map[string]any{"policy": s.ProjectPolicy(id), "serviceAccounts": accounts})
	})
	mux.HandleFunc("POST /_gcpfake/v1/projects", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ID               string `json:"id"`
			Number           string `json:"number"`
			WorkloadIdentity *bool  `json:"workloadIdentity"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.ID == "" {
			writeError(w, invalidArgument(`want {"id":…,"number":"…"}`))
			return
		}
		num, err := strconv.ParseInt(in.Number, 10, 64)
		if err != nil {
			writeError(w, invalidArgument("number: "+err.Error()))
			return
		}
		s.AddProject(in.ID, num)
		if in.WorkloadIdentity != nil {
			s.SetWorkloadIdentity(in.ID, *in.WorkloadIdentity)
		}
		writeJSON(w, map[string]any{})
	})
	mux.HandleFunc("POST /_gcpfake/v1/clusters", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Project, Location, Name string
			WorkloadIdentity        *bool `json:"workloadIdentity"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Project == "" || in.Location == "" || in.Name == "" {
			writeError(w, invalidArgument(`want {"project":…,"location":…,"name":…}`))
			return
		}
		s.AddCluster(in.Project, in.Location, in.Name, in.WorkloadIdentity == nil || *in.WorkloadIdentity)
		writeJSON(w, map[string]any{})
	})
	mux.HandleFunc("POST /_gcpfake/v1/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil || f.Code == 0 {
			writeError(w, invalidArgument("want a Fault with a code"))
			return
		}
		s.AddFault(f)
		writeJSON(w, map[string]any{})
	})
	mux.HandleFunc("GET /_gcpfake/v1/calls", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		calls := maps.Clone(s.calls)
		s.mu.Unlock()
		writeJSON(w, calls)
	})
	mux.ServeHTTP(w, r)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
