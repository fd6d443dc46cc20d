package cmd

import (
	"context"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/adapterhealth"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
)

// adapterWait explains, while setup waits for the adapter, why it is not
// ready, from its pods and the fatal line of its log. With deferIAM (setup
// did not grant: --skip-iam or --print-gcloud) an adapter that exits for
// want of IAM ends the wait: the grant is the one step left, and it is the
// user's.
type adapterWait struct {
	kube     kubernetes.Interface
	deferIAM bool
	// grant is the exact grant, for messages.
	grant string

	mu   sync.Mutex
	last adapterhealth.Diagnosis
}

func (w *adapterWait) explain(ctx context.Context, live *unstructured.Unstructured) (string, error) {
	if live.GetKind() != "Deployment" || live.GetNamespace() != identity.DefaultNamespace || live.GetName() != identity.DefaultKSA {
		return "", nil
	}
	sel, _, _ := unstructured.NestedStringMap(live.Object, "spec", "selector", "matchLabels")
	if len(sel) == 0 {
		return "", nil
	}
	d, err := adapterhealth.Diagnose(ctx, w.kube, live.GetNamespace(), sel)
	if err != nil || d.Pod == "" {
		return "", nil // kstatus' message stands
	}
	w.mu.Lock()
	w.last = d
	w.mu.Unlock()
	if w.deferIAM && d.IAMDenied() {
		return "", &apply.Deferred{Reason: "the adapter exits until it may read Cloud Monitoring (" + d.Fatal + "); " + w.grant +
			"\nthen the adapter restarts by itself (CrashLoopBackOff: within 5 minutes); `kubectl infer-hpa setup` again with the same flags confirms it"}
	}
	return d.String(), nil
}

// advice is what to do about the last diagnosis, for a wait that failed.
func (w *adapterWait) advice() string {
	w.mu.Lock()
	d := w.last
	w.mu.Unlock()
	switch {
	case d.IAMDenied():
		return "\nthe adapter is refused by Google Cloud: a grant made minutes ago may still be propagating (rerun setup: it resumes); otherwise the role or member is wrong: " + w.grant
	case d.NoMetadataServer():
		return "\nthe adapter cannot reach the GKE metadata server: its node runs without Workload Identity (gcloud container node-pools update POOL --workload-metadata=GKE_METADATA)"
	}
	return ""
}
