// Package tutorial holds the objects of the tutorial the plugin automates
// (seans3/k8s-ai, vllm-gpu): the vLLM Deployment serving gemma-3-1b-it on
// one L4 per pod, its Service and the Hugging Face token Secret it reads.
package tutorial

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Names and labels the tutorial uses.
const (
	DeploymentName = "vllm-gemma-deployment"
	ServiceName    = "vllm-service"
	SecretName     = "hf-secret"
	Container      = "inference-server"
	Model          = "google/gemma-3-1b-it"
	Port           = 8081
	AppLabel       = "gemma-server"
)

// Deployment is the tutorial's vllm-gemma-deployment in namespace ns. Like
// the tutorial it has no GPU toleration: GKE's ExtendedResourceToleration
// admission adds it (the twin's apiserver enables that plugin too).
func Deployment(ns string, replicas int32) *appsv1.Deployment {
	res := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("10Gi"),
		corev1.ResourceEphemeralStorage: resource.MustParse("10Gi"), "nvidia.com/gpu": resource.MustParse("1"),
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: DeploymentName, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": AppLabel}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{
					"app": AppLabel, "ai.gke.io/model": "gemma-3-1b-it", "ai.gke.io/inference-server": "vllm",
					"examples.ai.gke.io/source": "user-guide"}},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{
						Name:      Container,
						Image:     "us-docker.pkg.dev/vertex-ai/vertex-vision-model-garden-dockers/pytorch-vllm-serve:20250312_0916_RC01",
						Resources: corev1.ResourceRequirements{Requests: res, Limits: res},
						Command:   []string{"python3", "-m", "vllm.entrypoints.openai.api_server"},
						Args:      []string{"--model=$(MODEL_ID)", "--tensor-parallel-size=1", "--host=0.0.0.0", "--port=8081"},
						Env: []corev1.EnvVar{
							{Name: "MODEL_ID", Value: Model},
							{Name: "HUGGING_FACE_HUB_TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
								LocalObjectReference: corev1.LocalObjectReference{Name: SecretName}, Key: "hf_token"}}},
						},
						VolumeMounts: []corev1.VolumeMount{{MountPath: "/dev/shm", Name: "dshm"}},
					}},
					Volumes: []corev1.Volume{{Name: "dshm", VolumeSource: corev1.VolumeSource{
						EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}},
					NodeSelector: map[string]string{
						"cloud.google.com/gke-accelerator":        "nvidia-l4",
						"cloud.google.com/gke-gpu-driver-version": "latest",
					},
				},
			},
		},
	}
}

// Service is the tutorial's ClusterIP Service on port 8081.
func Service(ns string) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: ServiceName, Namespace: ns},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": AppLabel},
			Type:     corev1.ServiceTypeClusterIP,
			Ports:    []corev1.ServicePort{{Protocol: corev1.ProtocolTCP, Port: Port, TargetPort: intstr.FromInt32(Port)}},
		},
	}
}

// Secret is the Hugging Face token Secret the Deployment reads (a dummy
// token: nothing downloads a model in the twin).
func Secret(ns string) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: SecretName, Namespace: ns},
		StringData: map[string]string{"hf_token": "hf_twin_not_a_real_token"},
	}
}
