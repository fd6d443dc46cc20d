// Command etcd is etcd's server, built inside the twin module so that one
// go build produces every binary of the twin.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
