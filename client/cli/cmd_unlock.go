package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client/control"
)

func newUnlockCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "unlock",
		Short: "Give the passphrase back to locked syncs",
		Long: `Unlock: every running 'coffre sync' of this device that locked itself (after
--lock-after without you) or was locked by 'coffre lock' takes the keys back
and syncs again, and so does a running 'coffre app'. The passphrase is
checked here before any sync is told.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runUnlock(cmd.Context(), g, newConsole(cmd))
		},
	}
}

func runUnlock(_ context.Context, g *globalOptions, con *console) error {
	pass, err := g.passphrase(con, false)
	if err != nil {
		return err
	}
	n, err := control.Unlock(g.home, pass)
	if err != nil && !isRefused(err) {
		return err // the passphrase was refused here: no sync was told
	}
	fmt.Fprintf(con.out, "unlocked %d running sync(s)\n", n)
	return err
}

func isRefused(err error) bool {
	var r *control.RefusedError
	return errors.As(err, &r)
}
