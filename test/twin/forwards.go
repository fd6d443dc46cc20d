package twin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// forward mirrors one entry of kwok's PortForward spec.forwards.
type forward struct {
	Ports  []int32 `json:"ports,omitempty"`
	Target *struct {
		Port    int32  `json:"port"`
		Address string `json:"address"`
	} `json:"target,omitempty"`
	Command []string `json:"command,omitempty"`
}

type forwardSpec struct {
	Selector *struct {
		MatchNamespaces []string `json:"matchNamespaces,omitempty"`
		MatchNames      []string `json:"matchNames,omitempty"`
	} `json:"selector,omitempty"`
	Forwards []forward `json:"forwards"`
}

// podTarget is where kwok would forward the pod's port: the pod's own
// PortForward, else the first matching ClusterPortForward (kwok's rules).
func (r *routes) podTarget(ns, pod string, port int32) (string, error) {
	if obj, ok, _ := r.pfs.GetIndexer().GetByKey(ns + "/" + pod); ok {
		spec, err := specOf(obj)
		if err != nil {
			return "", err
		}
		if t, ok := pickForward(spec.Forwards, port); ok {
			return t, nil
		}
		return "", fmt.Errorf("PortForward %s/%s has no target for port %d", ns, pod, port)
	}
	for _, obj := range r.cpfs.GetIndexer().List() {
		spec, err := specOf(obj)
		if err != nil {
			return "", err
		}
		if s := spec.Selector; s != nil && (len(s.MatchNamespaces) > 0 && !slices.Contains(s.MatchNamespaces, ns) ||
			len(s.MatchNames) > 0 && !slices.Contains(s.MatchNames, pod)) {
			continue
		}
		if t, ok := pickForward(spec.Forwards, port); ok {
			return t, nil
		}
	}
	return "", fmt.Errorf("no PortForward or ClusterPortForward maps pod %s/%s port %d", ns, pod, port)
}

func specOf(obj any) (*forwardSpec, error) {
	u := obj.(*unstructured.Unstructured)
	spec := &forwardSpec{}
	m, _, _ := unstructured.NestedMap(u.Object, "spec")
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, spec); err != nil {
		return nil, fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
	}
	return spec, nil
}

// pickForward applies kwok's choice: a forward listing the port, else the
// first forward without ports. Command forwards have no address.
func pickForward(fs []forward, port int32) (string, bool) {
	var def *forward
	for i, f := range fs {
		if len(f.Ports) == 0 && def == nil {
			def = &fs[i]
		}
		if slices.Contains(f.Ports, port) {
			def = &fs[i]
			break
		}
	}
	if def == nil || def.Target == nil {
		return "", false
	}
	return net.JoinHostPort(def.Target.Address, strconv.Itoa(int(def.Target.Port))), true
}

// ForwardPodPort makes the pod's port reach target (a loopback host:port):
// for `kubectl port-forward` through kwok, and for Services and pod IPs
// through the egress proxy. It writes kwok's PortForward object named like
// the pod, adding to the forwards already there.
func (t *Twin) ForwardPodPort(ctx context.Context, namespace, pod string, port int32, target string) error {
	if err := requireLoopback(target); err != nil {
		return err
	}
	host, p, _ := net.SplitHostPort(target)
	tport, err := strconv.Atoi(p)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(t.Config)
	if err != nil {
		return err
	}
	res := dyn.Resource(PortForwardGVR).Namespace(namespace)
	entry := map[string]any{"ports": []any{int64(port)}, "target": map[string]any{"address": host, "port": int64(tport)}}
	obj, err := res.Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		obj = &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": kwokGroup + "/v1alpha1", "kind": "PortForward",
			"metadata": map[string]any{"name": pod, "namespace": namespace},
			"spec":     map[string]any{"forwards": []any{entry}},
		}}
		_, err = res.Create(ctx, obj, metav1.CreateOptions{})
		return err
	}
	fs, _, _ := unstructured.NestedSlice(obj.Object, "spec", "forwards")
	if err := unstructured.SetNestedSlice(obj.Object, append([]any{entry}, fs...), "spec", "forwards"); err != nil {
		return err
	}
	_, err = res.Update(ctx, obj, metav1.UpdateOptions{})
	return err
}

// PodLogFile gives a container of a kwok pod a log file that `kubectl logs`
// (and -f) read. It writes kwok's Logs object named like the pod and returns
// the file's path; add lines with AppendLog.
func (t *Twin) PodLogFile(ctx context.Context, namespace, pod, container string) (string, error) {
	path := filepath.Join(t.Dir, "pod-logs", fmt.Sprintf("%s_%s_%s.log", namespace, pod, container))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return "", err
	}
	f.Close()
	dyn, err := dynamic.NewForConfig(t.Config)
	if err != nil {
		return "", err
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": kwokGroup + "/v1alpha1", "kind": "Logs",
		"metadata": map[string]any{"name": pod, "namespace": namespace},
		"spec": map[string]any{"logs": []any{map[string]any{
			"containers": []any{container}, "logsFile": path, "follow": true,
		}}},
	}}
	data, err := obj.MarshalJSON()
	if err != nil {
		return "", err
	}
	_, err = dyn.Resource(LogsGVR).Namespace(namespace).Patch(ctx, pod, types.ApplyPatchType, data,
		metav1.PatchOptions{FieldManager: "twin", Force: ptrTrue()})
	return path, err
}

// PodLogFiles points kwok's Logs for one container of a kwok pod at a
// current and a previous log file (CRI format), for `kubectl logs` and
// `kubectl logs --previous`.
func (t *Twin) PodLogFiles(ctx context.Context, namespace, pod, container, current, previous string) error {
	for _, p := range []string{current, previous} {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		f.Close()
	}
	dyn, err := dynamic.NewForConfig(t.Config)
	if err != nil {
		return err
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": kwokGroup + "/v1alpha1", "kind": "Logs",
		"metadata": map[string]any{"name": pod, "namespace": namespace},
		"spec": map[string]any{"logs": []any{map[string]any{
			"containers": []any{container}, "logsFile": current, "previousLogsFile": previous, "follow": true,
		}}},
	}}
	data, err := obj.MarshalJSON()
	if err != nil {
		return err
	}
	_, err = dyn.Resource(LogsGVR).Namespace(namespace).Patch(ctx, pod, types.ApplyPatchType, data,
		metav1.PatchOptions{FieldManager: "twin", Force: ptrTrue()})
	return err
}

func ptrTrue() *bool { b := true; return &b }

// AppendLog appends lines to a pod log file in the CRI format kwok reads.
func AppendLog(path string, lines ...string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%s stdout F %s\n", time.Now().UTC().Format(time.RFC3339Nano), l)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// PodTarget is the loopback address the pod's port is mapped to (its
// PortForward, else a matching ClusterPortForward), resolved as the egress
// proxy does. Components that reach pods (the Managed Prometheus emulation's
// scrapes) dial this, never the pod IP.
func (t *Twin) PodTarget(namespace, pod string, port int32) (string, error) {
	if t.proxy == nil || t.proxy.routes == nil {
		return "", errors.New("twin: egress routes not started")
	}
	return t.proxy.routes.podTarget(namespace, pod, port)
}
