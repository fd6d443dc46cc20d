// Command servedir serves a directory over HTTP on a loopback port, so that
// krew's validate-krew-manifest can download release archives without any
// network: it writes the chosen address to -addr-file and serves until killed.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"os"
)

func main() {
	dir := flag.String("dir", ".", "directory to serve")
	addrFile := flag.String("addr-file", "", "file to write host:port to once listening")
	flag.Parse()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(ln.Addr().String()), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	log.Fatal(http.Serve(ln, http.FileServer(http.Dir(*dir))))
}
