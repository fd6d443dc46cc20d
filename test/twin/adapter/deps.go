package adapter

import (
	_ "sigs.k8s.io/custom-metrics-apiserver/pkg/cmd"
	_ "sigs.k8s.io/custom-metrics-apiserver/pkg/provider"
)
