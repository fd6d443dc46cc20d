// Package gcpfake is a local stand-in for the Google APIs kubectl
// infer-hpa calls to set up Workload Identity: IAM v1
// (projects.serviceAccounts create/get/list/delete/getIamPolicy/setIamPolicy),
// Cloud Resource Manager v1 and v3 (projects get/getIamPolicy/
// setIamPolicy) and GKE v1 (projects.locations.clusters.get, for the
// cluster's workload identity pool).
//
// It is written against the public REST surface, not against our client, so
// the real gcloud works against it too: the same URL shapes, Google's JSON
// error shape, etags that change on every write and 409 ABORTED on a stale
// one, policy versions (conditions need version 3, a version-1 read of a
// conditional policy gets the "_withcond_" roles), conditional bindings kept,
// the service account e-mail format (domain-scoped projects
// "example.com:proj" get NAME@proj.example.com.iam.gserviceaccount.com) and
// account-id rules, and
// "deleted:serviceAccount:…?uid=…" members after a service account is
// deleted. Tests script faults (concurrent writers, 429s, eventually
// consistent reads after a create, a missing workload identity pool,
// permission denied) and read the state back, e.g. with IdentityHasRole.
//
// Use it in-process with httptest.NewServer(gcpfake.New()) or as a command
// (test/gcpfake/cmd/gcpfake).
package gcpfake

import "encoding/json"

// Policy is an IAM policy as the REST APIs carry it.
type Policy struct {
	Version      int             `json:"version,omitempty"`
	Bindings     []Binding       `json:"bindings,omitempty"`
	AuditConfigs json.RawMessage `json:"auditConfigs,omitempty"`
	Etag         string          `json:"etag,omitempty"`
}

// Binding grants Role to Members, optionally under a Condition.
type Binding struct {
	Role      string   `json:"role"`
	Members   []string `json:"members,omitempty"`
	Condition *Expr    `json:"condition,omitempty"`
}

// Expr is an IAM condition (a CEL expression).
type Expr struct {
	Expression  string `json:"expression,omitempty"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Location    string `json:"location,omitempty"`
}

// ServiceAccount is an IAM v1 service account resource.
type ServiceAccount struct {
	Name           string `json:"name"`
	ProjectID      string `json:"projectId"`
	UniqueID       string `json:"uniqueId"`
	Email          string `json:"email"`
	DisplayName    string `json:"displayName,omitempty"`
	Description    string `json:"description,omitempty"`
	Etag           string `json:"etag,omitempty"`
	Oauth2ClientID string `json:"oauth2ClientId,omitempty"`
	Disabled       bool   `json:"disabled,omitempty"`
}

// Fault makes the server fail matching calls, the way Google can.
type Fault struct {
	// Method is a Google method ID such as
	// "cloudresourcemanager.projects.setIamPolicy"; empty matches every call.
	Method string `json:"method,omitempty"`
	// Times is how many matching calls fail (0 counts as 1); a negative
	// value means forever.
	Times int `json:"times"`
	// Code, Status and Message form the error; Permission, if set, is put in
	// an ErrorInfo detail the way IAM reports a missing permission.
	Code       int    `json:"code"`
	Status     string `json:"status"`
	Message    string `json:"message"`
	Permission string `json:"permission,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// Method IDs the server answers, as Google names them.
const (
	MethodCreateServiceAccount = "iam.projects.serviceAccounts.create"
	MethodGetServiceAccount    = "iam.projects.serviceAccounts.get"
	MethodListServiceAccounts  = "iam.projects.serviceAccounts.list"
	MethodDeleteServiceAccount = "iam.projects.serviceAccounts.delete"
	MethodGetSAPolicy          = "iam.projects.serviceAccounts.getIamPolicy"
	MethodSetSAPolicy          = "iam.projects.serviceAccounts.setIamPolicy"
	MethodGetProject           = "cloudresourcemanager.projects.get"
	MethodGetProjectPolicy     = "cloudresourcemanager.projects.getIamPolicy"
	MethodSetProjectPolicy     = "cloudresourcemanager.projects.setIamPolicy"
)

// apiError is Google's JSON error body.
type apiError struct {
	Code       int
	Status     string
	Message    string
	Permission string
	Reason     string
	Domain     string
}

func (e *apiError) Error() string { return e.Message }

func (e *apiError) body() map[string]any {
	inner := map[string]any{"code": e.Code, "message": e.Message, "status": e.Status}
	if e.Reason != "" {
		info := map[string]any{
			"@type":  "type.googleapis.com/google.rpc.ErrorInfo",
			"reason": e.Reason,
			"domain": e.Domain,
		}
		if e.Permission != "" {
			info["metadata"] = map[string]string{"permission": e.Permission}
		}
		inner["details"] = []any{info}
	}
	return map[string]any{"error": inner}
}

func errf(code int, status, msg string) *apiError {
	return &apiError{Code: code, Status: status, Message: msg}
}

func invalidArgument(msg string) *apiError { return errf(400, "INVALID_ARGUMENT", msg) }

func notFound(msg string) *apiError { return errf(404, "NOT_FOUND", msg) }
