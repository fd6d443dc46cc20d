package twin

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	nodeinit "sigs.k8s.io/kwok/kustomize/stage/node/fast"
	heartbeat "sigs.k8s.io/kwok/kustomize/stage/node/heartbeat-with-lease"
	podstages "sigs.k8s.io/kwok/kustomize/stage/pod/fast"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/adapterpod"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/sim/runner"
)

// writeKubeconfig writes a kubeconfig for one client certificate.
func writeKubeconfig(path, server, context string, ca, client *keyPair) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[context] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca.certPEM}
	cfg.AuthInfos[context] = &clientcmdapi.AuthInfo{ClientCertificateData: client.certPEM, ClientKeyData: client.keyPEM}
	cfg.Contexts[context] = &clientcmdapi.Context{Cluster: context, AuthInfo: context, Namespace: "default"}
	cfg.CurrentContext = context
	return clientcmd.WriteToFile(*cfg, path)
}

// egressConfig sends the apiserver's cluster traffic (services, nodes, pods)
// through the twin's CONNECT proxy on a Unix socket.
func egressConfig(socket string) string {
	return fmt.Sprintf(`apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: %q
`, socket)
}

// kwokCRDKinds are the kwok kinds read from the apiserver, so tests can add
// per-pod logs and port forwards at run time.
var kwokCRDKinds = []string{"Logs", "ClusterLogs", "PortForward", "ClusterPortForward"}

// kwokConfig is kwok's configuration plus the upstream Stage definitions
// (node-initialize, node-heartbeat-with-lease, pod-ready, pod-complete,
// pod-delete) that kwok ships.
// With simulation on, vLLM pods take the simulation's stages instead of
// pod-ready (they turn Ready after the model-load delay).
// With the metrics pipeline on, adapter pods take pod-start-adapter instead
// (Running, not Ready): the adapter supervisor (package adapterpod) keeps
// their status.
func kwokConfig(serverAddr string, serving *keyPair, sim *runner.Options, adapters bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
metadata:
  name: twin
options:
  manageAllNodes: false
  manageNodesWithAnnotationSelector: %s=%s
  serverAddress: %q
  nodePort: %d
  tlsCertFile: %q
  tlsPrivateKeyFile: %q
  nodeLeaseDurationSeconds: 40
  nodeLeaseParallelism: 4
  podPlayStageParallelism: 4
  nodePlayStageParallelism: 4
  podsOnNodeSyncParallelism: 1
  enablePodsOnNodeSyncListPager: true
  enableDebuggingHandlers: true
  enableProfilingHandler: false
  enableCRDs: [%s]
`, kwokNodeAnnotation, kwokNodeValue, serverAddr, kubeletPort, serving.certPath, serving.keyPath, strings.Join(kwokCRDKinds, ", "))
	stages := []string{nodeinit.DefaultNodeInit, heartbeat.DefaultNodeHeartbeatWithLease,
		podstages.DefaultPodReady, podstages.DefaultPodComplete, podstages.DefaultPodDelete}
	if sim != nil {
		stages[2] = runner.ExcludeVLLM(stages[2])
		stages = append(stages, runner.KwokStages(sim.ModelLoadDelay)...)
	}
	if adapters {
		stages[2] = runner.Exclude(stages[2], adapterpod.IsAdapterExpr)
		stages = append(stages, runner.StartStage("pod-start-adapter", adapterpod.IsAdapterExpr))
	}
	for _, s := range stages {
		b.WriteString("---\n")
		b.WriteString(strings.TrimLeft(s, "-\n"))
		if !strings.HasSuffix(s, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

func writeFile(dir, name, content string) (string, error) {
	p := filepath.Join(dir, name)
	return p, os.WriteFile(p, []byte(content), 0o600)
}
