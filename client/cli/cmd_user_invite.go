package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
)

type userInviteOptions struct {
	email   string
	profile string
	expires time.Duration
	replace bool
	json    bool
}

// invitationJSON is what 'user invite --json' and 'device invite --json'
// print, for scripts (the link without sed).
type invitationJSON struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind"`
	Email   string    `json:"email,omitempty"`
	Profile string    `json:"profile,omitempty"`
	Expires time.Time `json:"expires"`
	Link    string    `json:"link"`
	Greet   string    `json:"greet"` // the command to run next
}

func newUserInviteCommand(g *globalOptions) *cobra.Command {
	var opts userInviteOptions
	cmd := &cobra.Command{
		Use:   "invite EMAIL",
		Short: "Invite a new user (administrators only) and print the invitation link",
		Long: `Create an invitation for EMAIL and print its link. Send the link to the person
(email, chat); then run 'coffre user greet' and compare codes with them over
the phone or in person. The link works once, until it expires. An email with
a pending invitation is refused: --replace cancels it (its link stops
working) and invites again.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.email = args[0]
			return runUserInvite(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	cmd.Flags().StringVar(&opts.profile, "profile", "standard", "profile of the new user: admin, standard or outsider")
	cmd.Flags().DurationVar(&opts.expires, "expires", client.DefaultInvitationLife, "how long the invitation stays valid")
	cmd.Flags().BoolVar(&opts.replace, "replace", false, "cancel the pending invitation for EMAIL, if any, and invite again")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print JSON: id, kind, email, profile, expires, link, greet")
	return cmd
}

func runUserInvite(ctx context.Context, g *globalOptions, opts userInviteOptions, con *console) error {
	p, err := certificate.ParseProfile(opts.profile)
	if err != nil {
		return err
	}
	if err := positive("expires", opts.expires); err != nil {
		return err
	}
	s, err := g.unlock(ctx, con, false)
	if err != nil {
		return err
	}
	defer s.Close()
	invite := s.InviteUser
	if opts.replace {
		invite = s.ReplaceUserInvitation
	}
	l, inv, err := invite(ctx, opts.email, p, opts.expires)
	if err != nil {
		return err
	}
	greet := "coffre user greet " + inv.ID
	if opts.json {
		return printJSON(con.out, invitationJSON{ID: inv.ID, Kind: "user", Email: inv.Email, Profile: inv.Profile,
			Expires: inv.Expires, Link: l.String(), Greet: greet})
	}
	fmt.Fprintf(con.info, "invitation %s for %s (%s), valid until %s\n", inv.ID, shown(inv.Email), inv.Profile, inv.Expires.Format(time.RFC3339))
	fmt.Fprintln(con.info, "link (send it to them; it works once):")
	fmt.Fprintln(con.out, l)
	fmt.Fprintf(con.info, "then run: %s\n", greet)
	return nil
}
