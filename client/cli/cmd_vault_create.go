package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

func newVaultCreateCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "create NAME",
		Short: "Create a vault; you are its owner",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVaultCreate(cmd.Context(), g, args[0], newConsole(cmd))
		},
	}
}

func runVaultCreate(ctx context.Context, g *globalOptions, name string, con *console) error {
	s, err := g.unlock(ctx, con, false)
	if err != nil {
		return err
	}
	defer s.Close()
	info, err := s.CreateVault(ctx, name)
	if err != nil {
		return err
	}
	fmt.Fprintf(con.info, "vault %q created (id %s); you are its owner\n", info.Name, info.ID)
	return nil
}
