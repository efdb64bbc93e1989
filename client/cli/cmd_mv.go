package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
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
	s, w, from, err := g.openVault(ctx, con, opts.from)
	if err != nil {
		return err
	}
	defer s.Close()
	if v1, _, _ := vaultPath(opts.from); v1 != v2 {
		return errors.New("mv works within one vault: get and put to copy between vaults")
	}
	if err := w.Move(ctx, from, to); err != nil {
		return err
	}
	fmt.Fprintf(con.info, "%s → %s\n", shown(from), shown(to))
	return nil
}
