package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

type vaultArchiveOptions struct {
	vault string
	undo  bool
}

func newVaultArchiveCommand(g *globalOptions) *cobra.Command {
	var opts vaultArchiveOptions
	cmd := &cobra.Command{
		Use:   "archive VAULT",
		Short: "Archive a vault: it stays readable, nobody writes (owners)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.vault = args[0]
			return runVaultArchive(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	cmd.Flags().BoolVar(&opts.undo, "undo", false, "restore an archived vault")
	return cmd
}

func runVaultArchive(ctx context.Context, g *globalOptions, opts vaultArchiveOptions, con *console) error {
	s, err := g.unlock(ctx, con, false)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.ArchiveVault(ctx, opts.vault, !opts.undo); err != nil {
		return err
	}
	state := "archived"
	if opts.undo {
		state = "restored"
	}
	fmt.Fprintf(con.info, "vault %s %s\n", shown(opts.vault), state)
	return nil
}
