package doctor

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/plan"
)

// metadataServerLabel marks GKE nodes that run the GKE metadata server
// (Workload Identity on their node pool).
const metadataServerLabel = "iam.gke.io/gke-metadata-server-enabled"

const enableWI = "enable Workload Identity: gcloud container clusters update CLUSTER --location LOCATION --workload-pool=PROJECT_ID.svc.id.goog, then gcloud container node-pools update POOL --cluster CLUSTER --workload-metadata=GKE_METADATA"

// adapterPods lists the adapter's pods once.
func (s *state) adapterPods(ctx context.Context) ([]corev1.Pod, error) {
	return s.adapters.get(func() ([]corev1.Pod, error) {
		l, err := s.env.Kube.CoreV1().Pods(s.in.AdapterNamespace).List(ctx, metav1.ListOptions{LabelSelector: adapterSelector})
		if err != nil {
			return nil, err
		}
		return l.Items, nil
	})
}

func checkIdentity(ctx context.Context, s *state) []Check {
	var out []Check
	mode := identity.Mode(s.wiMode())
	if mode == identity.ModeNone {
		return []Check{skip(LinkIdentity, "identity/mode", "setup ran with --wi-mode none: the adapter's Google identity is yours to manage")}
	}
	out = append(out, s.checkWINodes(ctx)...)
	ksa, ksaErr := s.env.Kube.CoreV1().ServiceAccounts(s.in.AdapterNamespace).Get(ctx, identity.DefaultKSA, metav1.GetOptions{})
	if mode == "" { // no inventory: tell the mode from the annotation
		mode = identity.ModePrincipal
		if ksaErr == nil && ksa.Annotations[identity.KSAAnnotation] != "" {
			mode = identity.ModeGSA
		}
	}
	pi := s.projectOf(ctx)
	if pi.ID != "" && pi.Cluster != "" && pi.ID != pi.Cluster {
		out = append(out, fail(LinkIdentity, "identity/project", fmt.Sprintf("rerun setup with --project %s", pi.Cluster),
			"project %s (from %s) is not the cluster's project %s: Workload Identity grants must be in the cluster's project", pi.ID, pi.From, pi.Cluster))
	}
	if pi.ID == "" {
		return append(out, skip(LinkIdentity, "identity/grants", "the Google project is unknown: pass --project"))
	}
	cfg := identity.Config{Mode: mode, ProjectID: pi.ID, GSAName: s.parent[plan.AnnotationGSAName], Namespace: s.in.AdapterNamespace}.WithDefaults()
	member := ""
	if mode == identity.ModeGSA {
		c, gsaOK := s.checkKSAAnnotation(ksa, ksaErr, cfg)
		out = append(out, c)
		if gsaOK {
			out = append(out, s.checkGSA(ctx, cfg)...)
		}
		member = cfg.GSAMember()
	}
	if s.env.IAM == nil {
		why := "no IAM client"
		if s.env.IAMErr != nil {
			why = googleWhy(s.env.IAMErr)
		}
		return append(out, skip(LinkIdentity, "identity/monitoring-viewer", "cannot read IAM as you: %s", why))
	}
	if mode == identity.ModePrincipal {
		n, err := s.env.IAM.ProjectNumber(ctx, pi.ID)
		if err != nil {
			return append(out, iamErr("identity/monitoring-viewer", pi.ID, err))
		}
		cfg.ProjectNumber = n
		member = cfg.PrincipalMember()
	}
	out = append(out, s.checkViewer(ctx, cfg, member))
	return out
}

func (s *state) checkWINodes(ctx context.Context) []Check {
	p := perm{verb: "list", resource: "nodes"}
	if !s.can(ctx, p) {
		return []Check{denied(LinkIdentity, "identity/workload-identity", p)}
	}
	nodes, err := s.env.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: metadataServerLabel + "=true", Limit: 1})
	if err != nil {
		return []Check{readErr(LinkIdentity, "identity/workload-identity", p, err)}
	}
	if len(nodes.Items) == 0 {
		return []Check{fail(LinkIdentity, "identity/workload-identity", enableWI, "no node runs the GKE metadata server (label %s=true): Workload Identity is off", metadataServerLabel)}
	}
	out := []Check{ok(LinkIdentity, "identity/workload-identity", "Workload Identity is on (node %s runs the GKE metadata server)", nodes.Items[0].Name)}
	pods, err := s.adapterPods(ctx)
	if err != nil || len(pods) == 0 || pods[0].Spec.NodeName == "" {
		return out
	}
	node, err := s.env.Kube.CoreV1().Nodes().Get(ctx, pods[0].Spec.NodeName, metav1.GetOptions{})
	if err != nil {
		return out
	}
	if node.Labels[metadataServerLabel] != "true" {
		return append(out, fail(LinkIdentity, "identity/adapter-node",
			fmt.Sprintf("run the adapter on a Workload Identity node pool: rerun setup (it adds the nodeSelector %s: \"true\"), or `gcloud container node-pools update POOL --workload-metadata=GKE_METADATA`", metadataServerLabel),
			"the adapter's pod %s runs on node %s, which has no GKE metadata server: it gets the node's identity, not its own", pods[0].Name, node.Name))
	}
	return append(out, ok(LinkIdentity, "identity/adapter-node", "the adapter runs on node %s, which runs the GKE metadata server", node.Name))
}

func (s *state) checkKSAAnnotation(ksa *corev1.ServiceAccount, err error, cfg identity.Config) (Check, bool) {
	const id = "identity/ksa-annotation"
	ns := s.in.AdapterNamespace
	if err != nil {
		return readErr(LinkIdentity, id, perm{verb: "get", resource: "serviceaccounts", namespace: ns}, err), false
	}
	got := ksa.Annotations[identity.KSAAnnotation]
	fix := fmt.Sprintf("kubectl -n %s annotate serviceaccount %s %s=%s --overwrite (or rerun setup), then restart the adapter: kubectl -n %s rollout restart deployment %s",
		ns, cfg.KSA, identity.KSAAnnotation, cfg.GSAEmail(), ns, adapterName)
	switch got {
	case cfg.GSAEmail():
		return ok(LinkIdentity, id, "serviceaccount %s/%s impersonates %s", ns, cfg.KSA, got), true
	case "":
		return fail(LinkIdentity, id, fix, "serviceaccount %s/%s has no %s annotation (gsa mode): the adapter runs without its Google identity", ns, cfg.KSA, identity.KSAAnnotation), false
	}
	return fail(LinkIdentity, id, fix, "serviceaccount %s/%s is annotated %s=%s, but setup made %s", ns, cfg.KSA, identity.KSAAnnotation, got, cfg.GSAEmail()), false
}

func (s *state) checkGSA(ctx context.Context, cfg identity.Config) []Check {
	if s.env.IAM == nil {
		return nil // checkViewer says why
	}
	email := cfg.GSAEmail()
	exists, err := s.env.IAM.ServiceAccountExists(ctx, cfg.ProjectID, email)
	if err != nil {
		return []Check{iamErr("identity/gsa", cfg.ProjectID, err)}
	}
	if !exists {
		return []Check{fail(LinkIdentity, "identity/gsa", "rerun `kubectl infer-hpa setup` (it creates it), or `gcloud iam service-accounts create "+cfg.GSAName+" --project "+cfg.ProjectID+"`",
			"Google service account %s does not exist", email)}
	}
	out := []Check{ok(LinkIdentity, "identity/gsa", "Google service account %s exists", email)}
	g, err := s.env.IAM.ServiceAccountGrants(ctx, cfg.ProjectID, email)
	if err != nil {
		return append(out, iamErr("identity/workload-identity-user", cfg.ProjectID, err))
	}
	if !g.Has(gcp.RoleWorkloadIdentityUser, cfg.KSAMember()) {
		return append(out, fail(LinkIdentity, "identity/workload-identity-user",
			fmt.Sprintf("gcloud iam service-accounts add-iam-policy-binding %s --role %s --member \"%s\" (or rerun setup)", email, gcp.RoleWorkloadIdentityUser, cfg.KSAMember()),
			"%s may not impersonate %s: no %s binding", cfg.KSAMember(), email, gcp.RoleWorkloadIdentityUser))
	}
	return append(out, ok(LinkIdentity, "identity/workload-identity-user", "%s holds %s on %s", cfg.KSAMember(), gcp.RoleWorkloadIdentityUser, email))
}

func (s *state) checkViewer(ctx context.Context, cfg identity.Config, member string) Check {
	const id = "identity/monitoring-viewer"
	g, err := s.env.IAM.ProjectGrants(ctx, cfg.ProjectID)
	if err != nil {
		return iamErr(id, cfg.ProjectID, err)
	}
	if g.Has(gcp.RoleMonitoringViewer, member) {
		return ok(LinkIdentity, id, "%s holds %s on project %s", member, gcp.RoleMonitoringViewer, cfg.ProjectID)
	}
	return fail(LinkIdentity, id,
		fmt.Sprintf("gcloud projects add-iam-policy-binding %s --role %s --member \"%s\" (or rerun setup)", cfg.ProjectID, gcp.RoleMonitoringViewer, member),
		"%s lacks %s on project %s: the adapter cannot read Cloud Monitoring", member, gcp.RoleMonitoringViewer, cfg.ProjectID).
		with(fmt.Sprintf("members of %s: %s", gcp.RoleMonitoringViewer, orNone(joinMax(g.Members(gcp.RoleMonitoringViewer), 5))))
}

// iamErr: a permission the user lacks is a skip naming it; other errors FAIL.
func iamErr(id, project string, err error) Check {
	var ge *gcp.Error
	if errors.As(err, &ge) && ge.Kind == gcp.KindPermissionDenied {
		return skip(LinkIdentity, id, "you lack %s on project %s (granted by %s), so doctor cannot read it", ge.Permission, project, ge.Role)
	}
	if errors.As(err, &ge) && ge.Kind != gcp.KindAPI {
		return skip(LinkIdentity, id, "cannot read IAM as you: %v", err)
	}
	return fail(LinkIdentity, id, "rerun; if it persists, check the IAM page of the project in the Cloud Console", "%v", err)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// googleWhy says why a Google client could not be built, without the
// client library's long text when the reason is missing credentials.
func googleWhy(err error) string {
	var ge *gcp.Error
	if errors.As(err, &ge) && ge.Kind == gcp.KindNoCredentials {
		return "no Application Default Credentials: run `gcloud auth application-default login`"
	}
	return err.Error()
}
