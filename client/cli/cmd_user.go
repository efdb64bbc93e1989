package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
)

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

func newUserInviteCommand(g *globalOptions) *cobra.Command {
	var profile string
	var expires time.Duration
	cmd := &cobra.Command{
		Use:   "invite EMAIL",
		Short: "Invite a new user (administrators only) and print the invitation link",
		Long: `Create an invitation for EMAIL and print its link. Send the link to the person
(email, chat); then run 'coffre user greet' and compare codes with them over
the phone or in person. The link works once, until it expires.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := certificate.ParseProfile(profile)
			if err != nil {
				return err
			}
			if err := positive("expires", expires); err != nil {
				return err
			}
			s, err := g.unlock(cmd, false)
			if err != nil {
				return err
			}
			defer s.Close()
			l, inv, err := s.InviteUser(cmd.Context(), args[0], p, expires)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "invitation %s for %s (%s), valid until %s\n", inv.ID, shown(inv.Email), inv.Profile, inv.Expires.Format(time.RFC3339))
			fmt.Fprintf(out, "link (send it to them; it works once):\n%s\n", l)
			fmt.Fprintf(out, "then run: coffre user greet %s\n", inv.ID)
			return nil
		},
	}
	cmd.Flags().StringVar(&profile, "profile", "standard", "profile of the new user: admin, standard or outsider")
	cmd.Flags().DurationVar(&expires, "expires", client.DefaultInvitationLife, "how long the invitation stays valid")
	return cmd
}

// newGreetCommand is 'user greet' and 'device greet'.
func newGreetCommand(g *globalOptions, kind string) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "greet [INVITATION]",
		Short: fmt.Sprintf("Greet the %s claiming an invitation: compare codes, then enrol", kind),
		Long: fmt.Sprintf(`Greet whoever opens a pending %[1]s invitation (by id or email; the only
pending one when omitted). Both sides show a 4-character code: read yours to
the other person and type theirs. If the codes don't match, someone is in the
middle: the attempt is aborted on both sides and burned.

Without a terminal, the other person's code is read from standard input (one
line), then the confirmation (y), unless --yes.`, kind),
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.unlock(cmd, false)
			if err != nil {
				return err
			}
			defer s.Close()
			ref := ""
			if len(args) == 1 {
				ref = args[0]
			}
			inv, err := s.FindInvitation(cmd.Context(), kind, ref)
			if err != nil {
				return err
			}
			res, err := s.Greet(cmd.Context(), inv, &prompter{c: newConsole(cmd), yes: yes})
			if err != nil {
				return err
			}
			if kind == "user" {
				fmt.Fprintf(cmd.OutOrStdout(), "enrolled %s <%s> as user %s, with device %s\n", shown(res.Claimer.Name), shown(res.Claimer.Email), res.UserID, res.DeviceID)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "enrolled device %s (%s)\n", res.DeviceID, shown(res.Claimer.DeviceLabel))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "enrol without asking to confirm who is joining (the codes are still compared)")
	return cmd
}

type userJSON struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	Email     string       `json:"email"`
	Profile   string       `json:"profile"`
	Created   time.Time    `json:"created"`
	Revoked   *time.Time   `json:"revoked,omitempty"`
	Devices   []deviceJSON `json:"devices"`
	Yourself  bool         `json:"yourself,omitempty"`
	Positions [2]uint64    `json:"log_positions"`
	Offline   bool         `json:"offline,omitempty"` // from local state: the server can't be reached (exit status 3)
}

type deviceJSON struct {
	ID      string    `json:"id"`
	Label   string    `json:"label"`
	Created time.Time `json:"created"`
}

func newUserListCommand(g *globalOptions) *cobra.Command {
	var asJSON, all bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the organisation's users, as the verified log describes them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.unlock(cmd, true)
			if err != nil {
				return err
			}
			defer s.Close()
			if me, _ := s.Me(); me != nil && me.Profile == certificate.ProfileOutsider {
				return fmt.Errorf("outsiders can't list the organisation's members")
			}
			org := s.Organisation()
			var users []userJSON
			for _, u := range org.Users() {
				if u.Revoked() && !all {
					continue
				}
				j := userJSON{ID: u.ID, Name: u.Name, Email: u.Email, Profile: u.Profile.String(), Created: u.CreatedAt,
					Yourself: u.ID == s.Identity().UserID, Positions: [2]uint64{u.Position, u.RevokedAt}, Devices: []deviceJSON{}, Offline: g.offline}
				if u.Revoked() {
					t := u.RevokedOn
					j.Revoked = &t
				}
				for _, d := range org.Devices(u.ID) {
					j.Devices = append(j.Devices, deviceJSON{ID: d.ID, Label: d.Label, Created: d.CreatedAt})
				}
				users = append(users, j)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(users)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tEMAIL\tPROFILE\tDEVICES\tSTATE")
			for _, u := range users {
				state := "active"
				if u.Revoked != nil {
					state = "revoked " + u.Revoked.Format("2006-01-02")
				}
				if u.Yourself {
					state += " (you)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", u.ID, shown(u.Name), shown(u.Email), u.Profile, len(u.Devices), state)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&all, "all", false, "include revoked users")
	return cmd
}

func newUserRevokeCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke USER",
		Short: "Revoke a user and all their devices at once (administrators only)",
		Long: `Revoke USER (id or email): a signed certificate in the organisation log. The
server refuses the user's devices from their next call; every client refuses
anything those devices sign after the revocation.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.unlock(cmd, false)
			if err != nil {
				return err
			}
			defer s.Close()
			u, err := s.Revoke(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s <%s> (user %s)\n", shown(u.Name), shown(u.Email), u.ID)
			return nil
		},
	}
}

func newUserProfileCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "profile USER PROFILE",
		Short: "Change a user's profile: admin, standard or outsider (administrators only)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := certificate.ParseProfile(args[1])
			if err != nil {
				return err
			}
			s, err := g.unlock(cmd, false)
			if err != nil {
				return err
			}
			defer s.Close()
			u, err := s.SetProfile(cmd.Context(), args[0], p)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s <%s> is now %s\n", shown(u.Name), shown(u.Email), p)
			return nil
		},
	}
}
