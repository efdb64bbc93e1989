// Package cli is the coffre-server command line: one file per command,
// each RunE only parsing flags and calling the server package.
package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/internal/usage"
	"github.com/coffre/coffre/internal/version"
)

// Exit statuses: as coffre's for a command line that does not parse.
const (
	exitFailure = 1
	exitUsage   = 2 // unknown command or flag, wrong number of arguments
)

// Execute runs the coffre-server command line and returns the exit code.
func Execute() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := NewRootCommand()
	err := usage.UnknownCommand(root, os.Args[1:])
	if err == nil {
		err = root.ExecuteContext(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "coffre-server:", err)
		if usage.Is(err) {
			return exitUsage
		}
		return exitFailure
	}
	return 0
}

// NewRootCommand returns the root command with every subcommand.
func NewRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "coffre-server",
		Short: "coffre's server: stores and relays encrypted, signed blobs it cannot read",
		Long: `coffre-server hosts coffre organisations. It stores opaque, signed, encrypted
data and relays enrolment messages; it never sees content, names or keys.

Start it with 'coffre-server run --data DIR', then create an organisation with
'coffre-server org create --data DIR NAME' and give the printed bootstrap link
to the organisation's first administrator.

Exit status: 0 done, 1 failed, 2 usage (unknown command or flag, wrong
number of arguments).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCommand(), newOrgCommand(), newBackupCommand(), newRestoreCommand(), newGCCommand(), version.Command(root))
	usage.Mark(root)
	return root
}

// dataDirFlag adds the --data flag shared by every command.
func dataDirFlag(cmd *cobra.Command, dir *string) {
	def := os.Getenv("COFFRE_SERVER_DATA")
	if def == "" {
		def = "coffre-data"
	}
	cmd.Flags().StringVar(dir, "data", def, "data directory (store, TLS certificate, operator socket); env COFFRE_SERVER_DATA")
}
