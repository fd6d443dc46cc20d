// Command gcpfake serves the local IAM + Cloud Resource Manager + GKE
// (clusters.get) stand-in on a loopback port and prints its URL, for the
// twin, demos and gcloud:
//
//	gcpfake -listen 127.0.0.1:0 -project my-project=123456789012 -cluster my-project/us-central1/my-cluster
//	gcloud config set api_endpoint_overrides/iam URL
//	gcloud config set api_endpoint_overrides/cloudresourcemanager URL
//	gcloud config set api_endpoint_overrides/container URL
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/infer-hpa/kubectl-infer-hpa/test/gcpfake"
)

type projectFlags []string

func (p *projectFlags) String() string     { return strings.Join(*p, ",") }
func (p *projectFlags) Set(v string) error { *p = append(*p, v); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gcpfake:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:0", "loopback address to listen on")
	var projects projectFlags
	flag.Var(&projects, "project", "ID=NUMBER of a project to create (repeatable)")
	var clusters projectFlags
	flag.Var(&clusters, "cluster", "PROJECT/LOCATION/NAME of a GKE cluster to create in a -project (repeatable), for clusters.get")
	noWI := flag.Bool("no-workload-identity", false, "create the projects without a workload identity pool")
	flag.Parse()

	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("-listen %q: %w", *listen, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return errors.New("-listen must be a loopback address, e.g. 127.0.0.1:0")
	}
	srv := gcpfake.New()
	for _, p := range projects {
		id, num, ok := strings.Cut(p, "=")
		n, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil {
			return fmt.Errorf("-project %q: want ID=NUMBER, e.g. my-project=123456789012", p)
		}
		srv.AddProject(id, n)
		srv.SetWorkloadIdentity(id, !*noWI)
	}
	for _, c := range clusters {
		parts := strings.Split(c, "/")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return fmt.Errorf("-cluster %q: want PROJECT/LOCATION/NAME, e.g. my-project/us-central1/my-cluster", c)
		}
		srv.AddCluster(parts[0], parts[1], parts[2], true)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Printf("http://%s/\n", ln.Addr())
	return http.Serve(ln, srv)
}
