package cli

import (
	"context"

	"github.com/spf13/cobra"
)

func newMkdirCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "mkdir VAULT:/path",
		Short: "Create a folder in a vault",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMkdir(cmd.Context(), g, args[0], newConsole(cmd))
		},
	}
}

func runMkdir(ctx context.Context, g *globalOptions, target string, con *console) error {
	s, w, p, err := g.openVault(ctx, con, target)
	if err != nil {
		return err
	}
	defer s.Close()
	return w.Mkdir(ctx, p)
}
