// Command coffre-server is coffre's server. See 'coffre-server --help'.
package main

import (
	"os"

	"github.com/coffre/coffre/server/cli"
)

func main() { os.Exit(cli.Execute()) }
