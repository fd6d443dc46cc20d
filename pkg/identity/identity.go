// Package identity is who the custom-metrics Stackdriver adapter is to
// Google Cloud: the Workload Identity modes (--wi-mode), their defaults, the
// validators of project IDs and service account names, the IAM member
// strings and the Google service account's e-mail. It is a leaf: the
// renderer (pkg/kustomize) and the IAM client (pkg/gcp) both import it, and
// it imports no Google API client.
package identity

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Mode is how the adapter gets its Google identity.
type Mode string

const (
	// ModePrincipal grants roles/monitoring.viewer directly to the adapter's
	// Kubernetes service account as a Workload Identity Federation principal
	// (today's GKE documentation). No Google service account, no annotation.
	ModePrincipal Mode = "principal"
	// ModeGSA is the tutorial's way: a Google service account holding
	// roles/monitoring.viewer that the KSA may impersonate
	// (roles/iam.workloadIdentityUser); setup annotates the KSA with
	// iam.gke.io/gcp-service-account.
	ModeGSA Mode = "gsa"
	// ModeNone leaves IAM alone; the user manages it elsewhere.
	ModeNone Mode = "none"
)

// Defaults for Config.
const (
	DefaultMode    = ModePrincipal
	DefaultGSAName = "metrics-adapter-gsa"
	// DefaultNamespace is the adapter's namespace, and DefaultKSA the name
	// of its Kubernetes service account, Deployment and Service (the one
	// our APIServices point at), as upstream's manifest names them.
	DefaultNamespace = "custom-metrics"
	DefaultKSA       = "custom-metrics-stackdriver-adapter"

	// KSAAnnotation is the annotation setup puts on the KSA in gsa mode.
	KSAAnnotation = "iam.gke.io/gcp-service-account"
)

// Modes lists the valid --wi-mode values.
func Modes() []Mode { return []Mode{ModePrincipal, ModeGSA, ModeNone} }

// Config says which identity to set up for which adapter.
type Config struct {
	Mode Mode
	// ProjectID is the project whose policy grants the role: the cluster's.
	// Required unless Mode is none.
	ProjectID string
	// ClusterProject is the cluster's project, which owns its workload
	// identity pool; empty means ProjectID (they differ only with
	// --allow-project-mismatch).
	ClusterProject string
	// Pool is the cluster's workload identity pool as GKE reports it
	// (Client.WorkloadPool); empty means PoolFor(PoolProject()).
	Pool string
	// ProjectNumber is the number of the pool's project, needed by
	// principal mode; 0 means Ensure and Remove look it up through Cloud
	// Resource Manager.
	ProjectNumber int64
	// GSAName is the account ID of the Google service account (gsa mode).
	GSAName string
	// GSA is the service account's e-mail as IAM reported it; empty means
	// the one GSAEmail builds from GSAName and ProjectID.
	GSA string
	// Namespace and KSA name the adapter's Kubernetes service account.
	Namespace string
	KSA       string
}

// WithDefaults fills empty fields with the defaults.
func (c Config) WithDefaults() Config {
	c.Mode = cmp.Or(c.Mode, DefaultMode)
	c.GSAName = cmp.Or(c.GSAName, DefaultGSAName)
	c.Namespace = cmp.Or(c.Namespace, DefaultNamespace)
	c.KSA = cmp.Or(c.KSA, DefaultKSA)
	return c
}

// Validate checks a Config (after WithDefaults) and returns a one-line error
// naming the flag to fix.
func (c Config) Validate() error {
	if _, err := ParseMode(string(c.Mode)); err != nil {
		return err
	}
	if c.Mode == ModeNone {
		return nil
	}
	if c.ProjectID == "" {
		return errors.New("--project is required with --wi-mode " + string(c.Mode) + " (the GKE cluster's project ID), or use --wi-mode none")
	}
	if err := ValidateProjectID(c.ProjectID); err != nil {
		return err
	}
	if c.ProjectNumber < 0 {
		return fmt.Errorf("project number %d: must be the positive project number shown by `gcloud projects describe %s`", c.ProjectNumber, c.ProjectID)
	}
	if c.Mode == ModeGSA {
		if err := ValidateGSAName(c.GSAName); err != nil {
			return err
		}
	}
	if errs := validation.IsDNS1123Label(c.Namespace); len(errs) > 0 {
		return fmt.Errorf("adapter namespace %q: %s", c.Namespace, errs[0])
	}
	if errs := validation.IsDNS1123Subdomain(c.KSA); len(errs) > 0 {
		return fmt.Errorf("adapter service account %q: %s", c.KSA, errs[0])
	}
	return nil
}

// ParseMode parses a --wi-mode value.
func ParseMode(s string) (Mode, error) {
	for _, m := range Modes() {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("--wi-mode %q: must be one of principal (grant the adapter's KSA directly, no Google service account), gsa (the tutorial's Google service account) or none (manage IAM yourself)", s)
}

var (
	projectIDRE = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	// domainRE is the prefix of legacy domain-scoped project IDs
	// ("example.com:my-project").
	domainRE    = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)
	accountIDRE = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])$`)
	numberRE    = regexp.MustCompile(`^[0-9]+$`)
)

// ValidateProjectID checks a Google Cloud project ID: 6 to 30 lower-case
// letters, digits or hyphens, starting with a letter and not ending with a
// hyphen, without "google" (legacy domain-scoped IDs "example.com:my-project"
// are accepted).
// The error names the --project flag.
func ValidateProjectID(id string) error {
	name := id
	if domain, rest, ok := strings.Cut(id, ":"); ok {
		if !domainRE.MatchString(domain) {
			return fmt.Errorf("--project %q: the domain part of a domain-scoped project ID is not a valid domain", id)
		}
		name = rest
	}
	if strings.Contains(name, "google") {
		return fmt.Errorf("--project %q: a project ID cannot contain \"google\"; give the 6-30 character project ID, not the project name", id)
	}
	if !projectIDRE.MatchString(name) {
		if numberRE.MatchString(id) {
			return fmt.Errorf("--project %q looks like a project number: give the project ID (`gcloud projects list` shows both)", id)
		}
		return fmt.Errorf("--project %q: a project ID is 6 to 30 lower-case letters, digits or hyphens, starting with a letter and not ending with a hyphen", id)
	}
	return nil
}

// ValidateGSAName checks a Google service account ID (the part of the
// e-mail before "@"): 6 to 30 characters matching ^[a-z]([-a-z0-9]*[a-z0-9])$.
// The error names the --gsa-name flag.
func ValidateGSAName(name string) error {
	if len(name) < 6 || len(name) > 30 || !accountIDRE.MatchString(name) {
		return fmt.Errorf("--gsa-name %q: a service account ID is 6 to 30 characters of lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen", name)
	}
	return nil
}

// PoolFor is the workload identity pool GKE documents for a project's
// clusters, PROJECT_ID.svc.id.goog: what is assumed when the cluster's own
// workloadIdentityConfig cannot be read.
func PoolFor(projectID string) string { return projectID + ".svc.id.goog" }

// WorkloadPool is the cluster's workload identity pool: Pool, else
// PoolFor(PoolProject()).
func (c Config) WorkloadPool() string {
	if c.Pool != "" {
		return c.Pool
	}
	return PoolFor(c.PoolProject())
}

// PoolProject is the project that owns the workload identity pool (the
// cluster's), whose number principal members carry.
func (c Config) PoolProject() string {
	if c.ClusterProject != "" {
		return c.ClusterProject
	}
	return c.ProjectID
}

// GSAEmail is the e-mail of the Google service account (gsa mode), the value
// of the KSA's iam.gke.io/gcp-service-account annotation: GSA when IAM
// reported it, else built as IAM builds it,
// NAME@PROJECT_ID.iam.gserviceaccount.com, and for a domain-scoped project
// "example.com:proj", NAME@proj.example.com.iam.gserviceaccount.com.
func (c Config) GSAEmail() string {
	if c.GSA != "" {
		return c.GSA
	}
	domain := c.ProjectID
	if d, name, ok := strings.Cut(c.ProjectID, ":"); ok {
		domain = name + "." + d
	}
	return c.GSAName + "@" + domain + ".iam.gserviceaccount.com"
}

// PrincipalMember is the IAM member of the adapter's KSA in principal mode;
// it needs ProjectNumber.
func (c Config) PrincipalMember() string {
	return c.PrincipalMemberOf(fmt.Sprint(c.ProjectNumber))
}

// PrincipalMemberOf is PrincipalMember with the pool project's number given
// as text, e.g. "$PROJECT_NUMBER" in a shell command.
func (c Config) PrincipalMemberOf(number string) string {
	return fmt.Sprintf("principal://iam.googleapis.com/projects/%s/locations/global/workloadIdentityPools/%s/subject/ns/%s/sa/%s",
		number, c.WorkloadPool(), c.Namespace, c.KSA)
}

// KSAMember is the IAM member of the adapter's KSA that may impersonate the
// GSA in gsa mode: serviceAccount:PROJECT_ID.svc.id.goog[NAMESPACE/KSA].
func (c Config) KSAMember() string {
	return fmt.Sprintf("serviceAccount:%s[%s/%s]", c.WorkloadPool(), c.Namespace, c.KSA)
}

// GSAMember is the IAM member of the Google service account.
func (c Config) GSAMember() string { return "serviceAccount:" + c.GSAEmail() }
