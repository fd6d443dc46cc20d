package twin

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"regexp"
	"time"

	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/rest"
)

// gkeVersionRE is the shape of a GKE server version: v1.35.2-gke.1485000.
var gkeVersionRE = regexp.MustCompile(`^v(\d+)\.(\d+)\.\d+-gke\.\d+$`)

// startVersionProxy, when Options.ServerVersion is set, puts a loopback
// HTTPS proxy in front of the apiserver that answers /version with that
// GKE-shaped version and forwards everything else as the admin, and points
// Kubeconfig (what the plugin and tests use) at it. The control plane keeps
// talking to the apiserver directly: only clients see the GKE version.
func (t *Twin) startVersionProxy(p *pki, server string) error {
	v := t.Options.ServerVersion
	if v == "" {
		return nil
	}
	m := gkeVersionRE.FindStringSubmatch(v)
	if m == nil {
		return fmt.Errorf("twin: ServerVersion %q is not shaped like GKE's (v1.35.2-gke.1485000)", v)
	}
	real, err := t.Client.Discovery().ServerVersion()
	if err != nil {
		return err
	}
	info := *real
	info.GitVersion, info.Major, info.Minor = v, m[1], m[2]
	body, err := json.Marshal(version.Info(info))
	if err != nil {
		return err
	}
	transport, err := rest.TransportFor(t.Config)
	if err != nil {
		return err
	}
	target, err := url.Parse(server)
	if err != nil {
		return err
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport, rp.FlushInterval = transport, -1
	mux := http.NewServeMux()
	mux.HandleFunc("/version", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	mux.Handle("/", rp)
	cert, err := tls.LoadX509KeyPair(p.apiserver.certPath, p.apiserver.keyPath)
	if err != nil {
		return err
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.logf("version proxy: %v", err)
		}
	}()
	t.versionProxy = srv
	path := filepath.Join(t.Dir, "gke.kubeconfig")
	if err := writeKubeconfig(path, "https://"+ln.Addr().(*net.TCPAddr).String(), t.Context, p.ca, p.admin); err != nil {
		return err
	}
	t.Kubeconfig = path
	t.logf("twin reports server version %s to clients of %s", v, path)
	return nil
}
