package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client"
)

func newDeviceCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "device", Short: "Add, list, revoke and recover your own devices"}
	cmd.AddCommand(newDeviceInviteCommand(g), newGreetCommand(g, "device"),
		newDeviceListCommand(g), newDeviceRevokeCommand(g), newDeviceRecoveryCommand(g))
	return cmd
}

type deviceInviteOptions struct {
	expires time.Duration
	json    bool
}

func newDeviceInviteCommand(g *globalOptions) *cobra.Command {
	var opts deviceInviteOptions
	cmd := &cobra.Command{
		Use:   "invite",
		Short: "Invite a new device of yours and print the invitation link",
		Long: `Create an invitation for a new device of your own. Open the link on the new
device with 'coffre invitation claim LINK', run 'coffre device greet' here,
and compare the codes. Your private keys move to the new device inside the
channel the codes protect.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDeviceInvite(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	cmd.Flags().DurationVar(&opts.expires, "expires", client.DefaultInvitationLife, "how long the invitation stays valid")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print JSON: id, kind, expires, link, greet")
	return cmd
}

func runDeviceInvite(ctx context.Context, g *globalOptions, opts deviceInviteOptions, con *console) error {
	if err := positive("expires", opts.expires); err != nil {
		return err
	}
	s, err := g.unlock(ctx, con, false)
	if err != nil {
		return err
	}
	defer s.Close()
	l, inv, err := s.InviteDevice(ctx, opts.expires)
	if err != nil {
		return err
	}
	greet := "coffre device greet " + inv.ID
	if opts.json {
		return printJSON(con.out, invitationJSON{ID: inv.ID, Kind: "device", Expires: inv.Expires, Link: l.String(), Greet: greet})
	}
	fmt.Fprintf(con.info, "device invitation %s, valid until %s\n", inv.ID, inv.Expires.Format(time.RFC3339))
	fmt.Fprintln(con.info, "link (open it on the new device; it works once):")
	fmt.Fprintln(con.out, l)
	fmt.Fprintf(con.info, "then run: %s\n", greet)
	return nil
}
