package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client"
)

func newDeviceCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "device", Short: "Add your own devices"}
	cmd.AddCommand(newDeviceInviteCommand(g), newGreetCommand(g, "device"))
	return cmd
}

func newDeviceInviteCommand(g *globalOptions) *cobra.Command {
	var expires time.Duration
	cmd := &cobra.Command{
		Use:   "invite",
		Short: "Invite a new device of yours and print the invitation link",
		Long: `Create an invitation for a new device of your own. Open the link on the new
device with 'coffre invitation claim LINK', run 'coffre device greet' here,
and compare the codes. Your private keys move to the new device inside the
channel the codes protect.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := positive("expires", expires); err != nil {
				return err
			}
			s, err := g.unlock(cmd, false)
			if err != nil {
				return err
			}
			defer s.Close()
			l, inv, err := s.InviteDevice(cmd.Context(), expires)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "device invitation %s, valid until %s\n", inv.ID, inv.Expires.Format(time.RFC3339))
			fmt.Fprintf(out, "link (open it on the new device; it works once):\n%s\n", l)
			fmt.Fprintf(out, "then run: coffre device greet %s\n", inv.ID)
			return nil
		},
	}
	cmd.Flags().DurationVar(&expires, "expires", client.DefaultInvitationLife, "how long the invitation stays valid")
	return cmd
}
