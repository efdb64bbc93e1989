package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client/control"
)

func newLockCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "lock",
		Short: "Make running syncs forget the device keys until 'coffre unlock'",
		Long: `Lock: every running 'coffre sync' of this device forgets the unlocked keys and
leaves its folder as it is until 'coffre unlock'; so does a running 'coffre
app' (its interface shows the lock screen, its syncs wait). Other commands
keep no keys between runs: each asks for the passphrase.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLock(cmd.Context(), g, newConsole(cmd))
		},
	}
}

func runLock(_ context.Context, g *globalOptions, con *console) error {
	n, err := control.Lock(g.home)
	fmt.Fprintf(con.out, "locked %d running sync(s)\n", n)
	return err
}
