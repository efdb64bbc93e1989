package cli

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client/app"
)

type mvOptions struct {
	from, to string // VAULT:/path
}

func newMvCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "mv VAULT:/from VAULT:/to",
		Short: "Rename or move a file or folder within a vault",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMv(cmd.Context(), g, mvOptions{from: args[0], to: args[1]}, newConsole(cmd))
		},
	}
}

func runMv(ctx context.Context, g *globalOptions, opts mvOptions, con *console) error {
	v2, to, err := vaultPath(opts.to)
	if err != nil {
		return err
	}
	v1, _, err := vaultPath(opts.from)
	if err != nil {
		return err
	}
	if v1 != v2 {
		return errors.New("mv works within one vault: get and put to copy between vaults")
	}
	if c := g.viaApp(ctx); c != nil {
		return c.PathOp(ctx, "mv", app.PathOp{Target: opts.from, To: opts.to})
	}
	s, w, from, err := g.openVault(ctx, con, opts.from)
	if err != nil {
		return err
	}
	defer s.Close()
	return w.Move(ctx, from, to)
}
