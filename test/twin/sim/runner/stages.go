package runner

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// isVLLMExpr is the jq expression kwok evaluates to tell a vLLM pod: its
// image, command or args mention vllm. IsVLLM is the same rule in Go.
const isVLLMExpr = `[.spec.containers[] | .image, (.command // [])[], (.args // [])[]] | any(test("vllm"; "i"))`

// IsVLLM tells whether a pod runs vLLM (an image, command or argument of a
// container mentions vllm), the rule the kwok stages use too.
func IsVLLM(pod *corev1.Pod) bool {
	return vllmContainer(pod) >= 0
}

func vllmContainer(pod *corev1.Pod) int {
	for i, c := range pod.Spec.Containers {
		for _, s := range append(append([]string{c.Image}, c.Command...), c.Args...) {
			if strings.Contains(strings.ToLower(s), "vllm") {
				return i
			}
		}
	}
	return -1
}

// ExcludeVLLM adds a selector term to one of kwok's pod Stage manifests so
// that it no longer matches vLLM pods (their readiness comes from
// KwokStages).
func ExcludeVLLM(stage string) string { return Exclude(stage, isVLLMExpr) }

// Exclude adds a selector term to one of kwok's pod Stage manifests so that
// it no longer matches pods for which the jq expression expr is true.
func Exclude(stage, expr string) string {
	const anchor = "    matchExpressions:\n"
	term := anchor + "    - key: '" + expr + "'\n      operator: 'NotIn'\n      values:\n      - 'true'\n"
	return strings.Replace(stage, anchor, term, 1)
}

// KwokStages are the kwok Stages for vLLM pods: pod-start-vllm makes a
// scheduled vLLM pod Running with an IP but not Ready (the model loads);
// pod-ready-vllm makes it Ready loadDelay later. The default pod-ready
// stage must not match vLLM pods (see ExcludeVLLM).
func KwokStages(loadDelay time.Duration) []string {
	return []string{StartStage("pod-start-vllm", isVLLMExpr), readyStage(loadDelay)}
}

// selector selects the live pods in phase for which expr is true.
func selector(phase, expr, extra string) string {
	return fmt.Sprintf(`  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values:
      - '%s'
    - key: '%s'
      operator: 'In'
      values:
      - 'true'
%s`, phase, expr, extra)
}

// StartStage is a kwok Stage named name that makes a scheduled pod for
// which the jq expression expr is true Running with an IP but not Ready;
// something else (the simulation, a supervisor) makes it Ready.
func StartStage(name, expr string) string {
	return `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: ` + name + `
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
` + selector("Pending", expr, "") + `  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        started: true
        restartCount: 0
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}
      {{ $hostIPs := NodeIPsWith .spec.nodeName }}
      {{ with $hostIPs }}
      hostIP: {{ index . 0 | Quote }}
      hostIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      {{ $podIPs := PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
      {{ with $podIPs }}
      podIP: {{ index . 0 | Quote }}
      podIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      phase: Running
      startTime: {{ $now | Quote }}
`
}

func readyStage(loadDelay time.Duration) string {
	return fmt.Sprintf(`apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-ready-vllm
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
`+selector("Running", isVLLMExpr, `    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: 'NotIn'
      values:
      - 'True'
`)+`  delay:
    durationMilliseconds: %d
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: ContainersReady
      containerStatuses:
      {{ $started := .status.startTime }}
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        started: true
        restartCount: 0
        state:
          running:
            startedAt: {{ $started | Quote }}
      {{ end }}
`, loadDelay.Milliseconds())
}
