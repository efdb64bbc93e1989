package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

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
	// Unknown: this device was not sent the user's name and email
	// (SPEC.md §17); they are empty and the user is shown by id.
	Unknown bool `json:"unknown,omitempty"`
}

type deviceJSON struct {
	ID      string    `json:"id"`
	Label   string    `json:"label"`
	Created time.Time `json:"created"`
}

type userListOptions struct {
	json, all bool
}

func newUserListCommand(g *globalOptions) *cobra.Command {
	var opts userListOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the organisation's users, as the verified log describes them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runUserList(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print JSON")
	cmd.Flags().BoolVar(&opts.all, "all", false, "include revoked users")
	return cmd
}

func runUserList(ctx context.Context, g *globalOptions, opts userListOptions, con *console) error {
	s, err := g.unlock(ctx, con, true)
	if err != nil {
		return err
	}
	defer s.Close()
	org := s.Organisation()
	// An outsider sees the members of the vaults shared with it, and
	// itself: the others' identities are not sent to it (SPEC.md §17),
	// and those it doesn't know are counted, not listed. A user it should
	// know but wasn't sent is listed as unknown.
	me, _ := s.Me()
	visible := org.IdentityVisible(me)
	var users []userJSON
	hidden := 0
	for _, u := range org.Users() {
		if u.Revoked() && !opts.all {
			continue
		}
		if u.Unknown() && !visible(u.ID) {
			hidden++
			continue
		}
		j := userJSON{ID: u.ID, Name: u.Name, Email: u.Email, Profile: u.Profile.String(), Created: u.CreatedAt,
			Yourself: u.ID == s.Identity().UserID, Positions: [2]uint64{u.Position, u.RevokedAt}, Devices: []deviceJSON{}, Offline: g.offline,
			Unknown: u.Unknown()}
		if u.Revoked() {
			t := u.RevokedOn
			j.Revoked = &t
		}
		for _, d := range org.Devices(u.ID) {
			j.Devices = append(j.Devices, deviceJSON{ID: d.ID, Label: d.Label, Created: d.CreatedAt})
		}
		users = append(users, j)
	}
	if opts.json {
		return printJSON(con.out, users)
	}
	tw := tabwriter.NewWriter(con.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tEMAIL\tPROFILE\tDEVICES\tSTATE")
	for _, u := range users {
		state := "active"
		if u.Revoked != nil {
			state = "revoked " + u.Revoked.Format("2006-01-02")
		}
		if u.Yourself {
			state += " (you)"
		}
		name, email := shown(u.Name), shown(u.Email)
		if u.Unknown {
			name, email = unknownPerson(u.ID), "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", u.ID, name, email, u.Profile, len(u.Devices), state)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if hidden > 0 {
		fmt.Fprintf(con.info, "%d other user(s) share no vault with you: outsiders see only the members of their vaults\n", hidden)
	}
	return nil
}
