package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

func newInvitationCancelCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel INVITATION",
		Short: "Cancel a pending invitation",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInvitationCancel(cmd.Context(), g, args[0], newConsole(cmd))
		},
	}
}

func runInvitationCancel(ctx context.Context, g *globalOptions, id string, con *console) error {
	s, err := g.unlock(ctx, con, false)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.CancelInvitation(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(con.info, "invitation %s cancelled\n", shown(id))
	return nil
}
