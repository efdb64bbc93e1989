package cli

import "github.com/spf13/cobra"

func newUserCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Invite, greet, list and revoke users"}
	cmd.AddCommand(
		newUserInviteCommand(g),
		newGreetCommand(g, "user"),
		newUserListCommand(g),
		newUserRevokeCommand(g),
		newUserProfileCommand(g),
	)
	return cmd
}
