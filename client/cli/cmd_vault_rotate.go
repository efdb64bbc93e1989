package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

func newVaultRotateCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate VAULT",
		Short: "Give a vault a new key, sealed to its current members",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVaultRotate(cmd.Context(), g, args[0], newConsole(cmd))
		},
	}
}

func runVaultRotate(ctx context.Context, g *globalOptions, vault string, con *console) error {
	s, err := g.unlock(ctx, con, false)
	if err != nil {
		return err
	}
	defer s.Close()
	info, err := s.RotateVault(ctx, vault)
	if err != nil {
		return err
	}
	fmt.Fprintf(con.info, "vault %s now uses key %d\n", shown(info.Name), info.KeyIndex)
	return nil
}
