// Package embedded holds the manifest library: kustomize bases and
// components that encode the whole chain from vLLM scraping to the HPA.
// The files under library/ are plain YAML a reviewer can read; pkg/kustomize
// builds an overlay on top of them.
package embedded

import "embed"

// Library is the manifest library, rooted at "library".
//
//go:embed all:library
var Library embed.FS

// Root is the directory inside Library that holds the bases and components.
const Root = "library"
