package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/link"
)

type claimOptions struct {
	link        string
	name, label string
	wait        time.Duration
}

func newInvitationClaimCommand(g *globalOptions) *cobra.Command {
	var opts claimOptions
	cmd := &cobra.Command{
		Use:   "claim LINK",
		Short: "Join an organisation (or add this device) with an invitation link",
		Long: `Claim an invitation link. The person who invited you runs 'coffre user greet'
(or 'coffre device greet'); each of you sees a 4-character code: read yours
to them and type theirs. If the codes don't match, stop: someone may be in
the middle.

This device's keys are made here and kept in --home under a passphrase you
choose (asked twice on the terminal). Without a terminal: COFFRE_PASSPHRASE or
--passphrase-file, and the greeter's code on standard input.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.link = args[0]
			return runClaim(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	cmd.Flags().StringVar(&opts.name, "name", "", "your name, as colleagues will see it (new users)")
	cmd.Flags().StringVar(&opts.label, "device-label", "", "a name for this device (default: the host name)")
	cmd.Flags().DurationVar(&opts.wait, "timeout", client.DefaultGreeterWait, "how long to wait for the greeter at each step")
	return cmd
}

func runClaim(ctx context.Context, g *globalOptions, opts claimOptions, con *console) error {
	l, err := link.Parse(opts.link)
	if err != nil {
		return err
	}
	if l.Kind == link.KindRecovery {
		return fmt.Errorf("%w: a recovery link: give it, with the other members' links, to 'coffre device recovery claim LINK...'", link.ErrBadLink)
	}
	if l.Kind != link.KindUser && l.Kind != link.KindDevice {
		return fmt.Errorf("%w: not an invitation link", link.ErrBadLink)
	}
	if err := positive("timeout", opts.wait); err != nil {
		return err
	}
	if client.HasDevice(g.home) {
		return client.ErrAlreadyEnrolled
	}
	info, err := client.InspectInvitation(ctx, l)
	if err != nil {
		return err
	}
	out := con.info
	if info.Invitation.Kind == "user" {
		fmt.Fprintf(out, "invitation to join %q as %s (%s)\n", info.OrganisationName, shown(info.Invitation.Email), shown(info.Invitation.Profile))
	} else {
		fmt.Fprintf(out, "invitation to add this device to your account in %q\n", info.OrganisationName)
	}
	pass, err := g.passphrase(con, true)
	if err != nil {
		return err
	}
	s, err := client.Claim(ctx, g.home, l, client.ClaimOptions{
		Name: opts.name, DeviceLabel: opts.label, Passphrase: pass, Wait: opts.wait,
	}, &prompter{c: con})
	if err != nil {
		return err
	}
	defer s.Close()
	id := s.Identity()
	fmt.Fprintf(out, "enrolled in %q: user %s, device %s (%s)\n", id.OrganisationName, id.UserID, id.DeviceID, shown(id.DeviceLabel))
	return nil
}
