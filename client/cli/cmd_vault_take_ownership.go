package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

type vaultTakeOwnershipOptions struct {
	reason string
}

func newVaultTakeOwnershipCommand(g *globalOptions) *cobra.Command {
	var opts vaultTakeOwnershipOptions
	cmd := &cobra.Command{
		Use:   "take-ownership VAULT_ID --reason TEXT",
		Short: "Become an owner of a vault whose owners are all revoked (admins)",
		Long: `An orphan vault has no active owner: nobody can share, rotate or archive it.
An admin can take ownership (SPEC.md §16.4); it is refused while any owner is
active. The takeover is signed, kept in the organisation log with its reason
and shown to every member. It gives authority, not the key: a remaining
member of the vault releases the key to you when they next work in the
vault; if none remains, the content stays unreadable to you (coffre keeps no
copy of any key).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVaultTakeOwnership(cmd.Context(), g, args[0], opts, newConsole(cmd))
		},
	}
	cmd.Flags().StringVar(&opts.reason, "reason", "", "why (required; shown to every member)")
	return cmd
}

func runVaultTakeOwnership(ctx context.Context, g *globalOptions, vault string, opts vaultTakeOwnershipOptions, con *console) error {
	if strings.TrimSpace(opts.reason) == "" {
		return errors.New(`--reason is required: it is shown to every member of the vault`)
	}
	s, err := g.unlock(ctx, con, false)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.TakeOwnership(ctx, vault, opts.reason); err != nil {
		return err
	}
	fmt.Fprintf(con.out, "you own vault %s now; its key reaches you when a remaining member next works in it\n", shown(vault))
	return nil
}
