// Package version holds the build information injected with -ldflags -X.
package version

// These are set at link time, e.g.
//
//	-X github.com/infer-hpa/kubectl-infer-hpa/pkg/version.version=v0.1.0
//
// They are only read through Get, never written at run time.
var (
	version = "v0.0.0-dev"
	commit  = "unknown"
	date    = "unknown"
)

// Info describes the running binary.
type Info struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Date    string `json:"date"`
}

// Get returns the build information of this binary.
func Get() Info { return Info{Version: version, Commit: commit, Date: date} }
