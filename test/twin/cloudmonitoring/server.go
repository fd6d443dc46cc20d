// Package cloudmonitoring is the twin's Cloud Monitoring API: the v3 REST
// calls the custom-metrics-stackdriver-adapter and doctor make
// (projects.metricDescriptors.list and get, projects.timeSeries.list with
// the adapter's aligners), answered from the Managed Prometheus emulation's
// store (package gmp) as prometheus_target time series. Every call checks
// the caller: a bearer token minted by one of the twin's GKE metadata
// servers (googleauth.Tokens) names an identity, which must hold a role
// with the call's permission in the local IAM policy; a call without a
// token is the local user (gcloud's user, who owns the project in the
// local Google API server). Errors have Google's JSON shape. See docs/twin.md.
package cloudmonitoring

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/gmp"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/googleauth"
)

// EnvEndpoint is the gcloud endpoint override of Cloud Monitoring
// (api_endpoint_overrides/monitoring), which the twin's env file sets to
// this server and the plugin honours like its IAM and CRM overrides.
const EnvEndpoint = "CLOUDSDK_API_ENDPOINT_OVERRIDES_MONITORING"

// Server answers the Cloud Monitoring v3 API. It is an http.Handler.
type Server struct {
	Store    *gmp.Store
	Tokens   *googleauth.Tokens
	Policies *googleauth.Policies
	// Log receives one line per call (method, caller, answer); nil discards.
	Log io.Writer
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) logf(format string, args ...any) {
	if s.Log != nil {
		fmt.Fprintf(s.Log, "cloud monitoring: "+format+"\n", args...)
	}
}

// apiError is Google's error answer.
type apiError struct {
	Code    int
	Status  string
	Message string
	Reason  string // errors[].reason: "forbidden", "notFound", "badRequest", "authError"
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Code, e.Status, e.Message) }

func denied(permission string) *apiError {
	return &apiError{Code: 403, Status: "PERMISSION_DENIED", Reason: "forbidden",
		Message: fmt.Sprintf("Permission %s denied (or the resource may not exist).", permission)}
}

func invalid(msg string) *apiError {
	return &apiError{Code: 400, Status: "INVALID_ARGUMENT", Reason: "badRequest", Message: msg}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) {
	inner := map[string]any{"code": e.Code, "message": e.Message, "status": e.Status}
	if e.Reason != "" {
		item := map[string]any{"message": e.Message, "domain": "global", "reason": e.Reason}
		if e.Reason == "authError" {
			item["message"], item["location"], item["locationType"] = "Invalid Credentials", "Authorization", "header"
		}
		inner["errors"] = []any{item}
	}
	writeJSON(w, e.Code, map[string]any{"error": inner})
}

// OutagePath is the twin's control of a write outage (not a Google API):
// POST ?for=DURATION makes the stored data that old and drops writes
// (gmp.Store.Outage), DELETE resumes them.
const OutagePath = "/_twin/v1/outage"

// ServeHTTP routes /v3/projects/P/metricDescriptors[/TYPE] and
// /v3/projects/P/timeSeries, and OutagePath.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == OutagePath {
		s.outage(w, r)
		return
	}
	res, method, caller, aerr := s.serve(r)
	if aerr != nil {
		s.logf("%s %s by %s: %d %s", method, r.URL.Path, caller, aerr.Code, aerr.Message)
		writeError(w, aerr)
		return
	}
	s.logf("%s %s by %s: 200", method, r.URL.Path, caller)
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) outage(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		d, err := time.ParseDuration(r.URL.Query().Get("for"))
		if err != nil || d <= 0 {
			writeError(w, invalid("for: a positive duration such as 6m"))
			return
		}
		s.Store.Outage(d)
		s.logf("outage: the stored data is now %s older and writes are dropped", d)
	case http.MethodDelete:
		s.Store.Resume()
		s.logf("outage ended: writes are kept again")
	default:
		writeError(w, invalid("POST ?for=DURATION or DELETE"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) serve(r *http.Request) (any, string, string, *apiError) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/v3/projects/")
	if !ok || r.Method != http.MethodGet {
		return nil, "", "", &apiError{Code: 404, Status: "NOT_FOUND", Message: "The twin's Cloud Monitoring serves GET /v3/projects/P/metricDescriptors and /timeSeries only."}
	}
	project, coll, _ := strings.Cut(rest, "/")
	var method, perm string
	var descriptor string
	switch {
	case coll == "metricDescriptors":
		method, perm = "metricDescriptors.list", "monitoring.metricDescriptors.list"
	case strings.HasPrefix(coll, "metricDescriptors/"):
		method, perm = "metricDescriptors.get", "monitoring.metricDescriptors.get"
		descriptor = strings.TrimPrefix(coll, "metricDescriptors/")
	case coll == "timeSeries":
		method, perm = "timeSeries.list", "monitoring.timeSeries.list"
	default:
		return nil, "", "", &apiError{Code: 404, Status: "NOT_FOUND", Message: "Unknown collection " + coll}
	}
	caller, aerr := s.authorize(r.Context(), r.Header.Get("Authorization"), project, perm)
	if aerr != nil {
		return nil, method, caller, aerr
	}
	q := r.URL.Query()
	switch method {
	case "metricDescriptors.list":
		res, err := s.listDescriptors(project, q.Get("filter"))
		return res, method, caller, err
	case "metricDescriptors.get":
		res, err := s.getDescriptor(project, descriptor)
		return res, method, caller, err
	default:
		res, err := s.listTimeSeries(project, q)
		return res, method, caller, err
	}
}

// authorize resolves the caller and checks permission on project.
func (s *Server) authorize(ctx context.Context, header, project, permission string) (string, *apiError) {
	tok, ok := strings.CutPrefix(header, "Bearer ")
	if header == "" {
		return "the local user", nil
	}
	member, known := "", false
	if ok && s.Tokens != nil {
		member, known = s.Tokens.Member(tok)
	}
	if !known {
		return "an unknown token", &apiError{Code: 401, Status: "UNAUTHENTICATED", Reason: "authError",
			Message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential."}
	}
	if s.Policies == nil {
		return member, denied(permission)
	}
	p, err := s.Policies.Project(ctx, project)
	if err != nil {
		// An unknown project is indistinguishable from a denial.
		return member, denied(permission)
	}
	members := []string{member}
	if rest, ok := strings.CutPrefix(member, "principal://"); ok {
		// principal://…/subject/ns/NS/sa/KSA is also in principalSet://…/namespace/NS.
		if i := strings.Index(rest, "/subject/ns/"); i >= 0 {
			ns, _, _ := strings.Cut(rest[i+len("/subject/ns/"):], "/")
			members = append(members, "principalSet://"+rest[:i]+"/namespace/"+ns)
		}
	}
	for _, m := range members {
		if p.Policy.Allows(m, permission) {
			return member, nil
		}
	}
	return member, denied(permission)
}
