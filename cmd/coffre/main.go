// Command coffre is coffre's client. See 'coffre --help'.
package main

import (
	"os"

	"github.com/coffre/coffre/client/cli"
)

func main() { os.Exit(cli.Execute()) }
