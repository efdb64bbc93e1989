package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

type vaultRenameOptions struct {
	vault, name string
}

func newVaultRenameCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "rename VAULT NEW-NAME",
		Short: "Rename a vault (owners and managers)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVaultRename(cmd.Context(), g, vaultRenameOptions{vault: args[0], name: args[1]}, newConsole(cmd))
		},
	}
}

func runVaultRename(ctx context.Context, g *globalOptions, opts vaultRenameOptions, con *console) error {
	s, err := g.unlock(ctx, con, false)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.RenameVault(ctx, opts.vault, opts.name); err != nil {
		return err
	}
	fmt.Fprintf(con.info, "vault %s renamed to %s\n", shown(opts.vault), shown(opts.name))
	return nil
}
