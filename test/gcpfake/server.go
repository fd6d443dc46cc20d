package gcpfake

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Server is the fake IAM + Cloud Resource Manager API. It is an
// http.Handler; all methods are safe for concurrent use.
type Server struct {
	mu       sync.Mutex
	projects map[string]*project // by project ID
	clusters map[string]*cluster // by PROJECT/LOCATION/NAME
	seq      uint64              // drives etags and unique IDs
	calls    map[string]int
	faults   []*Fault
	// concurrentWrites: before each of the next N setIamPolicy calls another
	// writer changes the target policy, so the caller's etag is stale.
	concurrentWrites int
	// staleReads: the next N reads of a freshly created service account
	// answer staleCode, as IAM's eventual consistency does.
	staleState map[string]*staleState
	staleN     int
	staleCode  int
	staleAfter int
}

type project struct {
	id               string
	number           int64
	workloadIdentity bool
	pool             string // the workload identity pool's name
	policy           Policy
	accounts         map[string]*account // by e-mail
}

type account struct {
	sa     ServiceAccount
	policy Policy
}

// New returns a server with no projects; add them with AddProject.
func New() *Server {
	return &Server{
		projects:   map[string]*project{},
		clusters:   map[string]*cluster{},
		calls:      map[string]int{},
		staleState: map[string]*staleState{},
	}
}

// AddProject creates a project with Workload Identity enabled (its pool
// PROJECT_ID.svc.id.goog exists) and an empty policy.
func (s *Server) AddProject(id string, number int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.projects[id] = &project{id: id, number: number, workloadIdentity: true, pool: id + ".svc.id.goog",
		policy: Policy{Version: 1, Etag: s.nextEtag()}, accounts: map[string]*account{}}
}

// SetWorkloadIdentity turns the project's workload identity pool on or off
// (off: binding a member of PROJECT_ID.svc.id.goog fails as on a cluster
// without Workload Identity).
func (s *Server) SetWorkloadIdentity(projectID string, enabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.projects[projectID]; p != nil {
		p.workloadIdentity = enabled
	}
}

// SetProjectPolicy replaces a project's bindings (for seeding foreign
// bindings); the etag changes.
func (s *Server) SetProjectPolicy(projectID string, bindings []Binding) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[projectID]
	if p == nil {
		return
	}
	p.policy.Bindings = normalize(bindings)
	p.policy.Version = asVersion(p.policy, 3).Version
	p.policy.Etag = s.nextEtag()
}

// AddFault scripts a failure; faults are tried in the order added.
func (s *Server) AddFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ConcurrentWriters makes another writer change the target policy just
// before each of the next n setIamPolicy calls (it grants roles/viewer to
// user:concurrent-N@example.com), so those calls fail with 409 ABORTED and
// the foreign grant must survive the caller's retry.
func (s *Server) ConcurrentWriters(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.concurrentWrites = n
}

// StaleReadsAfterCreate makes the first n reads (get, getIamPolicy, and
// being named in a policy) of each service account created from now on fail
// with code (403 or 404), as IAM's eventual consistency does. With after > 0
// the stale answers start only after that many good reads, modelling reads
// that flip between replicas.
func (s *Server) StaleReadsAfterCreate(n, code, after int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.staleN, s.staleCode, s.staleAfter = n, code, after
}

// Calls reports how many times a method was called (faulted calls count).
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// AllCalls returns the call counts by method (only methods called).
func (s *Server) AllCalls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// ResetCalls zeroes the call counters.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
}

func (s *Server) nextEtag() string {
	s.seq++
	b := make([]byte, 9)
	b[0] = 0x07
	binary.BigEndian.PutUint64(b[1:], s.seq)
	return base64.StdEncoding.EncodeToString(b)
}

// ServeHTTP routes /v1/… and /v3/… API calls and the /_gcpfake/ debug API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_gcpfake/") {
		s.serveDebug(w, r)
		return
	}
	segs, verb, err := splitPath(r.URL)
	if err != nil {
		writeError(w, invalidArgument(err.Error()))
		return
	}
	var body map[string]json.RawMessage
	if r.Body != nil {
		data, _ := io.ReadAll(r.Body)
		if len(strings.TrimSpace(string(data))) > 0 {
			if err := json.Unmarshal(data, &body); err != nil {
				writeError(w, invalidArgument("Invalid JSON payload received. "+err.Error()))
				return
			}
		}
	}
	req := &request{method: r.Method, segs: segs, verb: verb, query: r.URL.Query(), body: body}
	s.mu.Lock()
	res, aerr := s.route(req)
	s.mu.Unlock()
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(res)
}

type request struct {
	method string
	segs   []string // unescaped path segments, verb removed
	verb   string   // the ":verb" suffix, e.g. "getIamPolicy"
	query  url.Values
	body   map[string]json.RawMessage
}

// splitPath splits the escaped path into unescaped segments and the custom
// verb of the last one (".../x:setIamPolicy").
func splitPath(u *url.URL) ([]string, string, error) {
	raw := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	// The verb follows the last literal ":" of the last segment; an escaped
	// one (%3A, as in the domain-scoped project "example.com%3Aproj") is
	// part of the name.
	verb := ""
	if last := raw[len(raw)-1]; strings.Contains(last, ":") {
		i := strings.LastIndex(last, ":")
		raw[len(raw)-1], verb = last[:i], last[i+1:]
	}
	segs := make([]string, len(raw))
	for i, r := range raw {
		v, err := url.PathUnescape(r)
		if err != nil {
			return nil, "", err
		}
		segs[i] = v
	}
	return segs, verb, nil
}

// route dispatches a call; s.mu is held.
func (s *Server) route(r *request) (any, *apiError) {
	method := methodOf(r)
	if method == "" {
		return nil, notFound(fmt.Sprintf("The requested URL /%s was not found on this server.", strings.Join(r.segs, "/")))
	}
	s.calls[method]++
	if f := s.takeFault(method); f != nil {
		return nil, f
	}
	ver, segs := r.segs[0], r.segs[1:]
	switch method {
	case MethodGetProject:
		return s.getProject(ver, segs[1])
	case MethodGetProjectPolicy:
		return s.getProjectPolicy(segs[1], r)
	case MethodSetProjectPolicy:
		return s.setProjectPolicy(segs[1], r)
	case MethodCreateServiceAccount:
		return s.createSA(segs[1], r)
	case MethodListServiceAccounts:
		return s.listSAs(segs[1])
	case MethodGetServiceAccount:
		return s.getSA(segs[1], segs[3])
	case MethodDeleteServiceAccount:
		return s.deleteSA(segs[1], segs[3])
	case MethodGetSAPolicy:
		return s.getSAPolicy(segs[1], segs[3], r)
	case MethodSetSAPolicy:
		return s.setSAPolicy(segs[1], segs[3], r)
	case MethodGetCluster:
		return s.getCluster(segs[1], segs[3], segs[5])
	}
	return nil, notFound("unknown method " + method)
}

// methodOf maps a REST call to its Google method ID.
func methodOf(r *request) string {
	s := r.segs
	if len(s) < 3 || s[1] != "projects" || (s[0] != "v1" && s[0] != "v3") {
		return ""
	}
	key := fmt.Sprintf("%s %d %s", r.method, len(s), r.verb)
	if s[0] == "v3" || len(s) == 3 {
		return map[string]string{
			"GET 3 ":              MethodGetProject,
			"POST 3 getIamPolicy": MethodGetProjectPolicy,
			"POST 3 setIamPolicy": MethodSetProjectPolicy,
		}[key]
	}
	if len(s) == 7 && s[0] == "v1" && s[3] == "locations" && s[5] == "clusters" && r.method == "GET" && r.verb == "" {
		return MethodGetCluster
	}
	if s[3] != "serviceAccounts" || s[0] != "v1" {
		return ""
	}
	return map[string]string{
		"POST 4 ":             MethodCreateServiceAccount,
		"GET 4 ":              MethodListServiceAccounts,
		"GET 5 ":              MethodGetServiceAccount,
		"DELETE 5 ":           MethodDeleteServiceAccount,
		"POST 5 getIamPolicy": MethodGetSAPolicy,
		"GET 5 getIamPolicy":  MethodGetSAPolicy,
		"POST 5 setIamPolicy": MethodSetSAPolicy,
	}[key]
}

func (s *Server) takeFault(method string) *apiError {
	for i, f := range s.faults {
		if f.Method != "" && f.Method != method {
			continue
		}
		if f.Times > 0 {
			f.Times--
		}
		if f.Times == 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		e := &apiError{Code: f.Code, Status: f.Status, Message: f.Message, Permission: f.Permission, Reason: f.Reason}
		if f.Permission != "" && e.Reason == "" {
			e.Reason = "IAM_PERMISSION_DENIED"
		}
		if e.Reason != "" {
			e.Domain = strings.SplitN(method, ".", 2)[0] + ".googleapis.com"
		}
		return e
	}
	return nil
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(e.Code)
	_ = json.NewEncoder(w).Encode(e.body())
}
