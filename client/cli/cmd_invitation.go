package cli

import "github.com/spf13/cobra"

func newInvitationCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "invitation", Short: "Claim, list and cancel invitations"}
	cmd.AddCommand(newInvitationClaimCommand(g), newInvitationListCommand(g), newInvitationCancelCommand(g))
	return cmd
}
