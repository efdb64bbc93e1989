package cli

import (
	"context"

	"github.com/spf13/cobra"
)

func newRmCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "rm VAULT:/path",
		Short: "Remove a file or an empty folder (its versions stay: get --at DATE reads it back)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRm(cmd.Context(), g, args[0], newConsole(cmd))
		},
	}
}

func runRm(ctx context.Context, g *globalOptions, target string, con *console) error {
	s, w, p, err := g.openVault(ctx, con, target)
	if err != nil {
		return err
	}
	defer s.Close()
	return w.Remove(ctx, p)
}
