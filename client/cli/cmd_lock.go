package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client/control"
)

func newLockCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "lock",
		Short: "Make running syncs forget the device keys until 'coffre unlock'",
		Long: `Lock: every running 'coffre sync' of this device forgets the unlocked keys and
leaves its folder as it is until 'coffre unlock'. Other commands keep no keys
between runs: each asks for the passphrase.`,
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

func newUnlockCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "unlock",
		Short: "Give the passphrase back to locked syncs",
		Args:  cobra.NoArgs,
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
