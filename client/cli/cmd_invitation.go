package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/link"
)

func newInvitationCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "invitation", Short: "Claim, list and cancel invitations"}
	cmd.AddCommand(newInvitationClaimCommand(g), newInvitationListCommand(g), newInvitationCancelCommand(g))
	return cmd
}

type claimOptions struct {
	name, label string
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
			l, err := link.Parse(args[0])
			if err != nil {
				return err
			}
			if l.Kind != link.KindUser && l.Kind != link.KindDevice {
				return fmt.Errorf("%w: not an invitation link", link.ErrBadLink)
			}
			if client.HasDevice(g.home) {
				return client.ErrAlreadyEnrolled
			}
			con := newConsole(cmd)
			info, err := client.InspectInvitation(cmd.Context(), l)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if info.Invitation.Kind == "user" {
				fmt.Fprintf(out, "invitation to join %q as %s (%s)\n", info.OrganisationName, shown(info.Invitation.Email), shown(info.Invitation.Profile))
			} else {
				fmt.Fprintf(out, "invitation to add this device to your account in %q\n", info.OrganisationName)
			}
			pass, err := g.passphrase(con, true)
			if err != nil {
				return err
			}
			s, err := client.Claim(cmd.Context(), g.home, l, client.ClaimOptions{
				Name: opts.name, DeviceLabel: opts.label, Passphrase: pass,
			}, &prompter{c: con})
			if err != nil {
				return err
			}
			defer s.Close()
			id := s.Identity()
			fmt.Fprintf(out, "enrolled in %q: user %s, device %s (%s)\n", id.OrganisationName, id.UserID, id.DeviceID, shown(id.DeviceLabel))
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.name, "name", "", "your name, as colleagues will see it (new users)")
	cmd.Flags().StringVar(&opts.label, "device-label", "", "a name for this device (default: the host name)")
	return cmd
}

func newInvitationListCommand(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the invitations you can greet",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.unlock(cmd, false)
			if err != nil {
				return err
			}
			defer s.Close()
			invs, err := s.Invitations(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				if invs == nil {
					invs = []client.Invitation{}
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(invs)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tEMAIL\tPROFILE\tSTATE\tEXPIRES\tFAILED ATTEMPTS")
			for _, i := range invs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", shown(i.ID), shown(i.Kind), shown(i.Email), shown(i.Profile), shown(i.State), i.Expires.Format(time.RFC3339), i.Attempts)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newInvitationCancelCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel INVITATION",
		Short: "Cancel a pending invitation",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.unlock(cmd, false)
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.CancelInvitation(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "invitation %s cancelled\n", shown(args[0]))
			return nil
		},
	}
}
