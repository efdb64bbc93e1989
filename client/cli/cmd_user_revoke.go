package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

func newUserRevokeCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke USER",
		Short: "Revoke a user and all their devices at once (administrators only)",
		Long: `Revoke USER (id or email): a signed certificate in the organisation log. The
server refuses the user's devices from their next call; every client refuses
anything those devices sign after the revocation.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUserRevoke(cmd.Context(), g, args[0], newConsole(cmd))
		},
	}
}

func runUserRevoke(ctx context.Context, g *globalOptions, ref string, con *console) error {
	s, err := g.unlock(ctx, con, false)
	if err != nil {
		return err
	}
	defer s.Close()
	u, err := s.Revoke(ctx, ref)
	if err != nil {
		return err
	}
	fmt.Fprintf(con.info, "revoked %s (user %s)\n", person(u), u.ID)
	return nil
}
