// Command csclr is csclr's command line: the local cluster (`csclr dev`) and,
// as they land, service, revision, route and traffic commands.
package main

import (
	"fmt"
	"os"

	"csclr.dev/csclr/pkg/cli"
)

func main() {
	if err := cli.NewRoot(os.Stdout, os.Stderr).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "csclr:", err)
		os.Exit(1)
	}
}
