package gcp

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"google.golang.org/api/googleapi"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
)

// Kind says what went wrong, so callers and tests need not parse messages.
type Kind string

// Error kinds.
const (
	KindNoCredentials            Kind = "NoCredentials"
	KindPermissionDenied         Kind = "PermissionDenied"
	KindWorkloadIdentityDisabled Kind = "WorkloadIdentityDisabled"
	KindQuotaProject             Kind = "QuotaProject"
	KindServiceDisabled          Kind = "ServiceDisabled"
	KindUnauthenticated          Kind = "Unauthenticated"
	KindGaveUp                   Kind = "GaveUp"
	KindNotConsistent            Kind = "NotConsistent"
	KindAPI                      Kind = "API"
)

// Error is a failed IAM step with the remedy. Err is the underlying error
// (a *googleapi.Error for API answers).
type Error struct {
	Kind Kind
	// Op is what was being done, e.g. "setIamPolicy on projects/my-project".
	Op string
	// Permission is the missing permission (KindPermissionDenied) and Role
	// a predefined role that grants it.
	Permission string
	Role       string
	// Fix tells the user what to do.
	Fix string
	Err error
}

func (e *Error) Error() string {
	msg := e.Op + ": "
	switch e.Kind {
	case KindPermissionDenied:
		msg += fmt.Sprintf("permission %s denied", e.Permission)
	case KindWorkloadIdentityDisabled:
		msg += "Workload Identity is not enabled on this cluster"
	default:
		msg += errText(e.Err)
	}
	if e.Fix != "" {
		msg += "; " + e.Fix
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// errText is the server's message for Google API errors.
func errText(err error) string {
	if ge := asGoogle(err); ge != nil && ge.Message != "" {
		return fmt.Sprintf("%s (HTTP %d)", ge.Message, ge.Code)
	}
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}

func asGoogle(err error) *googleapi.Error {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge
	}
	return nil
}

// permissionRoles maps the permissions we use to a predefined role granting
// each.
var permissionRoles = map[string]string{
	"resourcemanager.projects.get":          "roles/browser (Browser)",
	"resourcemanager.projects.getIamPolicy": "roles/resourcemanager.projectIamAdmin (Project IAM Admin)",
	"resourcemanager.projects.setIamPolicy": "roles/resourcemanager.projectIamAdmin (Project IAM Admin)",
	"iam.serviceAccounts.get":               "roles/iam.serviceAccountAdmin (Service Account Admin)",
	"iam.serviceAccounts.create":            "roles/iam.serviceAccountAdmin (Service Account Admin)",
	"iam.serviceAccounts.delete":            "roles/iam.serviceAccountAdmin (Service Account Admin)",
	"iam.serviceAccounts.getIamPolicy":      "roles/iam.serviceAccountAdmin (Service Account Admin)",
	"iam.serviceAccounts.setIamPolicy":      "roles/iam.serviceAccountAdmin (Service Account Admin)",
	"container.clusters.get":                "roles/container.clusterViewer (Kubernetes Engine Cluster Viewer)",
}

var permissionInMessage = regexp.MustCompile(`[Pp]ermission '?([a-z]+\.[A-Za-z]+\.[A-Za-z]+)'? (is )?denied`)

// classify turns an API error of op (which needs permission) into an *Error
// with a remedy. cfg supplies names for the remedies.
func classify(err error, op, permission string, cfg identity.Config) error {
	var own *Error
	if err == nil || errors.As(err, &own) {
		return err
	}
	ge := asGoogle(err)
	if ge == nil {
		return &Error{Kind: KindAPI, Op: op, Err: err}
	}
	status, reason, detailPerm := errorDetails(ge)
	msg := ge.Message
	e := &Error{Kind: KindAPI, Op: op, Err: err}
	switch {
	case ge.Code == 400 && strings.Contains(msg, "Identity Pool does not exist"):
		e.Kind = KindWorkloadIdentityDisabled
		e.Fix = fmt.Sprintf("the pool %s does not exist; enable it with `gcloud container clusters update CLUSTER --location=LOCATION --workload-pool=%s` (and let node pools use it: `gcloud container node-pools update NODEPOOL --cluster=CLUSTER --location=LOCATION --workload-metadata=GKE_METADATA`)",
			cfg.WorkloadPool(), cfg.WorkloadPool())
	case ge.Code == 401:
		e.Kind = KindUnauthenticated
		e.Fix = "the credentials were rejected (expired?): run `gcloud auth application-default login`"
	case strings.Contains(strings.ToLower(msg), "quota project"):
		e.Kind = KindQuotaProject
		e.Fix = fmt.Sprintf("your user credentials need a quota project: run `gcloud auth application-default set-quota-project %s`", cfg.ProjectID)
	case reason == "SERVICE_DISABLED" || strings.Contains(msg, "has not been used in project") || strings.Contains(msg, "it is disabled"):
		e.Kind = KindServiceDisabled
		e.Fix = fmt.Sprintf("enable the APIs: `gcloud services enable iam.googleapis.com cloudresourcemanager.googleapis.com --project=%s`", cfg.ProjectID)
	case ge.Code == 403 || status == "PERMISSION_DENIED":
		e.Kind = KindPermissionDenied
		e.Permission = permission
		if detailPerm != "" {
			e.Permission = detailPerm
		} else if m := permissionInMessage.FindStringSubmatch(msg); m != nil {
			e.Permission = m[1]
		}
		e.Role = permissionRoles[e.Permission]
		if e.Role == "" {
			e.Role = "roles/owner"
		}
		e.Fix = fmt.Sprintf("it is granted by %s on project %s; ask an administrator for it, or run with --print-gcloud and have them run the commands, or use --wi-mode none", e.Role, cfg.ProjectID)
	}
	return e
}

// errorDetails digs the status, the ErrorInfo reason and a missing
// permission out of Google's error body.
func errorDetails(ge *googleapi.Error) (status, reason, permission string) {
	var body struct {
		Error struct {
			Status  string `json:"status"`
			Details []struct {
				Reason   string            `json:"reason"`
				Metadata map[string]string `json:"metadata"`
			} `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(ge.Body), &body) != nil {
		return "", "", ""
	}
	for _, d := range body.Error.Details {
		if d.Reason != "" {
			reason = d.Reason
		}
		if p := d.Metadata["permission"]; p != "" {
			permission = p
		}
	}
	return body.Error.Status, reason, permission
}

// retryable: concurrent changes, throttling and transient server errors.
func retryable(err error) bool {
	switch statusOf(err) {
	case 409, 412, 429, 500, 502, 503, 504:
		return !isAlreadyExists(err)
	}
	return false
}

// retryableSet adds "400 … does not exist" for a member that was just
// created (IAM is eventually consistent), but not a missing identity pool.
func retryableSet(err error) bool {
	if retryable(err) {
		return true
	}
	ge := asGoogle(err)
	return ge != nil && ge.Code == 400 && strings.Contains(ge.Message, "does not exist") &&
		!strings.Contains(ge.Message, "Identity Pool")
}

func isAlreadyExists(err error) bool {
	ge := asGoogle(err)
	if ge == nil || ge.Code != 409 {
		return false
	}
	status, _, _ := errorDetails(ge)
	return status == "ALREADY_EXISTS" || strings.Contains(ge.Message, "already exists")
}
