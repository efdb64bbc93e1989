package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/link"
)

// Shared recovery (SPEC.md §15.6): share, help, claim.

type recoveryShareOptions struct {
	members   []string
	threshold int
}

func newDeviceRecoveryShareCommand(g *globalOptions) *cobra.Command {
	var opts recoveryShareOptions
	cmd := &cobra.Command{
		Use:   "share --members EMAIL,EMAIL,... --threshold K",
		Short: "Let K of N trusted members together give you a new device",
		Long: `Enrol a recovery device of yours, as 'coffre device recovery export' does,
but keep no secret anywhere whole: the secret is split into one share per
member (Shamir's secret sharing), each sealed to that member, and published
with the encrypted recovery device in the organisation log. Any K of the
members can later, together, give you a new device; fewer than K learn
nothing.

If you lose every device (or forget your passphrase), ask K of them to run
'coffre device recovery assist YOUR-EMAIL' and send you their links; then run
'coffre device recovery claim LINK... --home NEWHOME' and compare codes with
each of them by voice.

Running it again replaces your shared recovery (and revokes the previous
recovery device). Revoke the recovery device ('coffre device revoke') to
turn it off; share again when a member leaves.`,
		Example: `  coffre device recovery share --members carol@example.org,dave@example.org,erin@example.org --threshold 2`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDeviceRecoveryShare(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	cmd.Flags().StringSliceVar(&opts.members, "members", nil, "the trusted members, by email (comma-separated)")
	cmd.Flags().IntVar(&opts.threshold, "threshold", 0, "how many of them it takes to recover (1 to the number of members)")
	return cmd
}

func runDeviceRecoveryShare(ctx context.Context, g *globalOptions, opts recoveryShareOptions, con *console) error {
	if len(opts.members) == 0 {
		return errors.New("name the trusted members with --members EMAIL,EMAIL")
	}
	if opts.threshold < 1 || opts.threshold > len(opts.members) {
		return fmt.Errorf("--threshold must be between 1 and %d (the number of members), got %d", len(opts.members), opts.threshold)
	}
	s, err := g.unlock(ctx, con, false)
	if err != nil {
		return err
	}
	defer s.Close()
	r, err := s.ShareRecovery(ctx, opts.members, opts.threshold)
	if err != nil {
		return err
	}
	fmt.Fprintf(con.out, "shared recovery published: any %d of %d members can give you a new device\n", r.Threshold, len(r.Shares))
	fmt.Fprintf(con.info, "recovery device %s; the members: %s\n", r.RecoveryDeviceID, strings.Join(opts.members, ", "))
	fmt.Fprintln(con.info, "if you lose your devices, ask them to run: coffre device recovery assist YOUR-EMAIL")
	return nil
}

type recoveryAssistOptions struct {
	expires time.Duration
	yes     bool
}

func newDeviceRecoveryAssistCommand(g *globalOptions) *cobra.Command {
	var opts recoveryAssistOptions
	cmd := &cobra.Command{
		Use:   "assist EMAIL",
		Short: "Help a colleague who lost their devices recover, with your share",
		Long: `Help EMAIL recover, if their shared recovery names you ('coffre device
recovery share'). This prints a link: send it to them, then call them. They
run 'coffre device recovery claim LINK... --home NEWHOME'; each of you sees a
4-character code: read yours to them and type theirs. Only when the codes
match, and you confirm that you are talking to EMAIL, does your share leave
this device, sealed for the person on the other end. If the codes don't
match, someone is in the middle: stop.

Be sure of who you are talking to: K members' shares give a new device of
EMAIL's account. The command waits until they claim the link (Ctrl-C stops).

Without a terminal, their code is read from standard input (one line), then
the confirmation (y), unless --yes.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDeviceRecoveryAssist(cmd.Context(), g, args[0], opts, newConsole(cmd))
		},
	}
	cmd.Flags().DurationVar(&opts.expires, "expires", time.Hour, "how long the link stays valid")
	cmd.Flags().BoolVar(&opts.yes, "yes", false, "send the share without asking to confirm (the codes are still compared)")
	return cmd
}

func runDeviceRecoveryAssist(ctx context.Context, g *globalOptions, email string, opts recoveryAssistOptions, con *console) error {
	if err := positive("expires", opts.expires); err != nil {
		return err
	}
	s, err := g.unlock(ctx, con, false)
	if err != nil {
		return err
	}
	defer s.Close()
	l, inv, err := s.InviteRecovery(ctx, email, opts.expires)
	if err != nil {
		return err
	}
	fmt.Fprintf(con.info, "recovery invitation %s for %s, valid until %s\n", inv.ID, shown(email), inv.Expires.Format(time.RFC3339))
	fmt.Fprintln(con.info, "link (send it to them, then call them; it works once):")
	fmt.Fprintln(con.out, l)
	if err := s.GreetRecovery(ctx, inv, &recoveryPrompter{prompter{c: con, yes: opts.yes}}); err != nil {
		return err
	}
	fmt.Fprintf(con.out, "your share of %s's recovery was sent\n", shown(email))
	return nil
}

type recoveryClaimOptions struct {
	label string
	wait  time.Duration
}

func newDeviceRecoveryClaimCommand(g *globalOptions) *cobra.Command {
	var opts recoveryClaimOptions
	cmd := &cobra.Command{
		Use:   "claim LINK... --home NEWHOME",
		Short: "Get a new device from the shares of K members' links",
		Long: `Recover your account with your shared recovery ('coffre device recovery
share'): give the links K of your members sent you ('coffre device recovery
assist YOUR-EMAIL'). For each link in turn, call that member: each of you sees a
4-character code: read yours to them and type theirs. If the codes don't
match, stop: someone may be in the middle.

Links can also come one at a time: the shares received are kept in --home
(encrypted under the passphrase you give: give the same one each time) until
there are K; fewer than K reveal nothing.

With K shares, the recovery secret is rebuilt here, checked, and a new device
of yours is enrolled in --home (which must hold no device), under a new
passphrase (asked twice on the terminal; without one: COFFRE_PASSPHRASE or
--passphrase-file, and the codes on standard input). Then revoke the devices
you lost and share your recovery again.`,
		Example: `  coffre --home ~/.coffre-new device recovery claim 'coffre://…kind=recovery…' 'coffre://…kind=recovery…'`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDeviceRecoveryClaim(cmd.Context(), g, args, opts, newConsole(cmd))
		},
	}
	cmd.Flags().StringVar(&opts.label, "device-label", "", "a name for the new device (default: the host name)")
	cmd.Flags().DurationVar(&opts.wait, "timeout", client.DefaultGreeterWait, "how long to wait for each member at each step")
	return cmd
}

func runDeviceRecoveryClaim(ctx context.Context, g *globalOptions, args []string, opts recoveryClaimOptions, con *console) error {
	if err := positive("timeout", opts.wait); err != nil {
		return err
	}
	var links []link.Link
	for _, a := range args {
		l, err := link.Parse(a)
		if err != nil {
			return err
		}
		if l.Kind != link.KindRecovery {
			return fmt.Errorf("%w: not a recovery link (a member makes one with 'coffre device recovery assist EMAIL')", link.ErrBadLink)
		}
		links = append(links, l)
	}
	if client.HasDevice(g.home) {
		return client.ErrAlreadyEnrolled
	}
	pass, err := g.passphrase(con, true)
	if err != nil {
		return err
	}
	s, err := client.RecoverWithShares(ctx, g.home, links, client.RecoverOptions{
		DeviceLabel: opts.label, Passphrase: pass, Wait: opts.wait,
	}, &recoveryPrompter{prompter{c: con}})
	if errors.Is(err, client.ErrTooFewShares) {
		// Not a failure: the shares so far are kept for the next claim.
		fmt.Fprintln(con.out, strings.TrimSuffix(err.Error(), ": "+client.ErrTooFewShares.Error()))
		fmt.Fprintln(con.info, "claim again, with the same --home and passphrase, with the next member's link")
		return nil
	}
	if err != nil {
		return err
	}
	defer s.Close()
	id := s.Identity()
	fmt.Fprintf(con.out, "recovered: enrolled device %s (%s) of user %s in %q\n", id.DeviceID, shown(id.DeviceLabel), id.UserID, id.OrganisationName)
	fmt.Fprintln(con.info, "now revoke the devices you lost ('coffre device list', 'coffre device revoke') and run 'coffre device recovery share' again")
	return nil
}

// recoveryPrompter is the prompter of a recovery exchange: the member
// confirms whom the share goes to, and the waits name the recovery
// commands.
type recoveryPrompter struct{ prompter }

func (p *recoveryPrompter) ConfirmClaimer(ctx context.Context, who client.Claimer) (bool, error) {
	desc := fmt.Sprintf("%s <%s>", shown(who.Name), shown(who.Email))
	if p.yes {
		fmt.Fprintf(p.c.out, "Sending your share to %s\n", desc)
		return true, nil
	}
	a, err := p.c.line(ctx, fmt.Sprintf("Send your share of %s's recovery to the person you are talking to? [y/N] ", desc))
	return strings.EqualFold(a, "y") || strings.EqualFold(a, "yes"), err
}

func (p *recoveryPrompter) Progress(msg string) {
	if p.c.quiet {
		return
	}
	msg = strings.Replace(msg, client.WaitingForClaimer, client.WaitingForClaimer+" (they run 'coffre device recovery claim LINK...')", 1)
	msg = strings.Replace(msg, client.WaitingForGreeter, "for the member to start (they run 'coffre device recovery assist YOUR-EMAIL')", 1)
	fmt.Fprintln(p.c.err, shown(msg))
}
