package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

type vaultUnshareOptions struct {
	vault string
	users []string
}

func newVaultUnshareCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "unshare VAULT USER...",
		Short: "Remove members from a vault and rotate its key once",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVaultUnshare(cmd.Context(), g, vaultUnshareOptions{vault: args[0], users: args[1:]}, newConsole(cmd))
		},
	}
}

func runVaultUnshare(ctx context.Context, g *globalOptions, opts vaultUnshareOptions, con *console) error {
	s, err := g.unlock(ctx, con, false)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.UnshareVault(ctx, opts.vault, opts.users...); err != nil {
		return err
	}
	fmt.Fprintf(con.info, "removed %s from %s; the vault key was rotated\n", shown(strings.Join(opts.users, ", ")), shown(opts.vault))
	return nil
}
