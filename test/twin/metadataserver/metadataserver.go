// Package metadataserver is the twin's GKE metadata server: one loopback
// HTTP server per pod, answering the paths Google's client libraries read
// (project, cluster name and location, zone, hostname, and the default
// service account's e-mail and access token), with Workload Identity's
// rules for the token. See docs/twin.md.
package metadataserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/googleauth"
)

// MetadataServerLabel marks the nodes where GKE runs its metadata server
// (Workload Identity on for the node pool).
const MetadataServerLabel = "iam.gke.io/gke-metadata-server-enabled"

// GSAAnnotation on a Kubernetes service account names the Google service
// account it acts as.
const GSAAnnotation = "iam.gke.io/gcp-service-account"

// Pod is what the server needs to know about the pod it serves; the
// functions are called on every token request, so that changes (an
// annotation added, a node relabelled) apply at once, as on GKE.
type Pod struct {
	Namespace, ServiceAccount, Node string
	// GSA returns the KSA's iam.gke.io/gcp-service-account annotation ("" for none).
	GSA func(ctx context.Context) (string, error)
	// NodeHasMetadataServer tells whether the node carries MetadataServerLabel=true.
	NodeHasMetadataServer func(ctx context.Context) (bool, error)
}

// Cluster is what every metadata server of the twin answers alike.
type Cluster struct {
	Project       string
	ProjectNumber int64
	Cluster       string
	Location      string
	Zone          string
	Tokens        *googleauth.Tokens
	Policies      *googleauth.Policies
	// TokenTTL is the life of an access token (default 1h).
	TokenTTL time.Duration
}

// Handler serves one pod's metadata.
func (c *Cluster) Handler(pod Pod) http.Handler {
	return &handler{c: c, pod: pod}
}

type handler struct {
	c   *Cluster
	pod Pod
}

func text(w http.ResponseWriter, code int, s string) {
	w.Header().Set("Content-Type", "application/text")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(s))
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Metadata-Flavor", "Google")
	w.Header().Set("Server", "GKE Metadata Server")
	if r.Header.Get("Metadata-Flavor") != "Google" {
		text(w, http.StatusForbidden, "Missing required header \"Metadata-Flavor\": \"Google\"\n")
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/computeMetadata/v1/")
	if !ok {
		text(w, http.StatusNotFound, "Not Found\n")
		return
	}
	c := h.c
	switch strings.TrimSuffix(path, "/") {
	case "project/project-id":
		text(w, 200, c.Project)
	case "project/numeric-project-id":
		text(w, 200, fmt.Sprint(c.ProjectNumber))
	case "instance/attributes/cluster-name":
		text(w, 200, c.Cluster)
	case "instance/attributes/cluster-location":
		text(w, 200, c.Location)
	case "instance/attributes/cluster-uid":
		text(w, 200, fmt.Sprintf("%x", c.ProjectNumber))
	case "instance/zone":
		text(w, 200, fmt.Sprintf("projects/%d/zones/%s", c.ProjectNumber, c.Zone))
	case "instance/hostname", "instance/name":
		text(w, 200, h.pod.Node)
	case "instance/service-accounts":
		text(w, 200, "default/\n")
	case "instance/service-accounts/default/email":
		id, err := h.identity(r.Context())
		if err != nil {
			text(w, err.code, err.msg)
			return
		}
		text(w, 200, id.email)
	case "instance/service-accounts/default/token":
		id, err := h.identity(r.Context())
		if err != nil {
			text(w, err.code, err.msg)
			return
		}
		ttl := c.TokenTTL
		if ttl == 0 {
			ttl = time.Hour
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": c.Tokens.Mint(id.member, ttl), "expires_in": int(ttl.Seconds()) - 1, "token_type": "Bearer"})
	default:
		text(w, http.StatusNotFound, "Not Found\n")
	}
}

type identity struct{ member, email string }

type mdError struct {
	code int
	msg  string
}

// identity applies Workload Identity: on a node without the GKE metadata
// server the pod is the node (the Compute Engine default service account);
// a KSA annotated with a GSA is that GSA when the GSA exists and lets the
// KSA impersonate it (roles/iam.workloadIdentityUser), else an error; any
// other KSA is its Workload Identity Federation principal.
func (h *handler) identity(ctx context.Context) (identity, *mdError) {
	c, pod := h.c, h.pod
	if pod.NodeHasMetadataServer != nil {
		on, err := pod.NodeHasMetadataServer(ctx)
		if err != nil {
			return identity{}, &mdError{500, "Internal error: " + err.Error() + "\n"}
		}
		if !on {
			sa := googleauth.ComputeServiceAccount(c.ProjectNumber)
			return identity{"serviceAccount:" + sa, sa}, nil
		}
	}
	gsa := ""
	if pod.GSA != nil {
		var err error
		if gsa, err = pod.GSA(ctx); err != nil {
			return identity{}, &mdError{500, "Internal error: " + err.Error() + "\n"}
		}
	}
	if gsa == "" {
		return identity{googleauth.Principal(c.ProjectNumber, c.Project, pod.Namespace, pod.ServiceAccount), googleauth.Pool(c.Project)}, nil
	}
	deny := &mdError{http.StatusForbidden, fmt.Sprintf("Unable to generate access token; IAM returned 403 Forbidden: Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).\n"+
		"This error could be caused by a missing IAM policy binding on the target IAM service account.\n"+
		"For more information, refer to the Workload Identity documentation.\n"+
		"\tgcloud iam service-accounts add-iam-policy-binding %s --role=roles/iam.workloadIdentityUser --member=\"serviceAccount:%s[%s/%s]\"\n",
		gsa, googleauth.Pool(c.Project), pod.Namespace, pod.ServiceAccount)}
	if c.Policies == nil {
		return identity{}, deny
	}
	// The GSA may live in another project; the twin's server holds them all,
	// and its project is the one in the e-mail.
	proj := c.Project
	if at := strings.LastIndex(gsa, "@"); at >= 0 {
		if p, ok := strings.CutSuffix(gsa[at+1:], ".iam.gserviceaccount.com"); ok {
			proj = p
		}
	}
	p, err := c.Policies.Project(ctx, proj)
	if err != nil {
		return identity{}, deny
	}
	a, ok := p.Accounts[gsa]
	if !ok || a.ServiceAccount.Disabled ||
		!a.Policy.Grants(fmt.Sprintf("serviceAccount:%s[%s/%s]", googleauth.Pool(c.Project), pod.Namespace, pod.ServiceAccount), "roles/iam.workloadIdentityUser") {
		return identity{}, deny
	}
	return identity{"serviceAccount:" + gsa, gsa}, nil
}
