package runner

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	podstages "sigs.k8s.io/kwok/kustomize/stage/pod/fast"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/sim/vllm"
)

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    corev1.Container
		want serverArgs
	}{
		{"tutorial", corev1.Container{Command: []string{"python3", "-m", "vllm.entrypoints.openai.api_server"},
			Args: []string{"--model=$(MODEL_ID)", "--port=8081"}, Env: []corev1.EnvVar{{Name: "MODEL_ID", Value: "google/gemma-3-1b-it"}}},
			serverArgs{Model: "google/gemma-3-1b-it", Port: 8081}},
		{"vllm serve", corev1.Container{Command: []string{"vllm", "serve", "Qwen/Qwen3-0.6B", "--max-num-seqs", "8", "--served-model-name", "qwen"}},
			serverArgs{Model: "Qwen/Qwen3-0.6B", ServedName: "qwen", Port: 8000, MaxNumSeqs: 8}},
		{"shell", corev1.Container{Command: []string{"sh", "-c"}, Args: []string{"vllm serve m --port 9000 --max-model-len=4096"}},
			serverArgs{Model: "m", Port: 9000, MaxModelLen: 4096}},
	} {
		got := parseArgs(&tc.c)
		if got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
	m := serverArgs{Model: "a", ServedName: "b", MaxNumSeqs: 3}.model(vllm.DefaultModel())
	if m.Name != "b" || m.MaxNumSeqs != 3 || m.MaxModelLen != vllm.DefaultModel().MaxModelLen {
		t.Errorf("model from args: %+v", m)
	}
}

func TestExcludeVLLMChangesKwokPodReady(t *testing.T) {
	got := ExcludeVLLM(podstages.DefaultPodReady)
	if got == podstages.DefaultPodReady || !strings.Contains(got, isVLLMExpr) {
		t.Fatal("kwok's pod-ready stage changed shape: vLLM pods would be Ready at once")
	}
}

func TestIsVLLM(t *testing.T) {
	pod := func(image string, args ...string) *corev1.Pod {
		return &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "side", Image: "busybox"}, {Name: "s", Image: image, Args: args}}}}
	}
	if !IsVLLM(pod("vllm/vllm-openai:v0.10.1")) || !IsVLLM(pod("python", "-m", "vLLM.entrypoints.openai.api_server")) || IsVLLM(pod("nginx")) {
		t.Error("IsVLLM does not follow the image/command/args rule")
	}
	if vllmContainer(pod("vllm/vllm-openai")) != 1 {
		t.Error("vllmContainer did not pick the vLLM container")
	}
}
