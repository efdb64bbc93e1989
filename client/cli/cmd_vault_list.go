package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client"
)

type vaultListOptions struct {
	json bool
}

func newVaultListCommand(g *globalOptions) *cobra.Command {
	var opts vaultListOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List your vaults with your role and their members",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVaultList(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print JSON")
	return cmd
}

func runVaultList(ctx context.Context, g *globalOptions, opts vaultListOptions, con *console) error {
	vaults, emergencies, err := g.vaults(ctx, con)
	if err != nil {
		return err
	}
	if opts.json {
		type member struct {
			UserID string     `json:"user_id"`
			Name   string     `json:"name"`
			Email  string     `json:"email"`
			Role   string     `json:"role"`
			Until  *time.Time `json:"until,omitempty"`
			// Unknown: this device was not sent the member's name and
			// email (SPEC.md §17).
			Unknown bool `json:"unknown,omitempty"`
		}
		type vault struct {
			ID            string   `json:"id"`
			Name          string   `json:"name"`
			Role          string   `json:"role"`
			KeyIndex      uint32   `json:"key_index"`
			Archived      bool     `json:"archived"`
			NeedsRotation bool     `json:"needs_rotation"`
			Members       []member `json:"members"`
			Offline       bool     `json:"offline,omitempty"` // from local state (exit status 3)
			// AwaitingKey: this user's grant came without the key (an
			// emergency, a takeover) until a member releases it.
			AwaitingKey bool `json:"awaiting_key,omitempty"`
			// Emergencies: the vault's emergency accesses and takeovers
			// this user sees (SPEC.md §16), running or not.
			Emergencies []client.EmergencyInfo `json:"emergencies,omitempty"`
		}
		out := []vault{}
		for _, v := range vaults {
			j := vault{ID: v.ID, Name: v.Name, Role: v.Role.String(), KeyIndex: v.KeyIndex, Archived: v.Archived, NeedsRotation: v.NeedsRotation, Members: []member{}, Offline: g.offline}
			for _, m := range v.Members {
				mj := member{UserID: m.UserID, Name: m.Name, Email: m.Email, Role: m.Role.String(), Unknown: m.Unknown}
				if !m.Until.IsZero() {
					u := m.Until
					mj.Until = &u
				}
				j.Members = append(j.Members, mj)
			}
			j.AwaitingKey = v.AwaitingKey
			for _, e := range emergencies {
				if e.VaultID == v.ID {
					j.Emergencies = append(j.Emergencies, e)
				}
			}
			out = append(out, j)
		}
		return printJSON(con.out, out)
	}
	tw := tabwriter.NewWriter(con.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tYOUR ROLE\tMEMBERS\tKEY\tSTATE")
	for _, v := range vaults {
		var ms []string
		for _, m := range v.Members {
			ms = append(ms, memberText(m))
		}
		state := "active"
		if v.Archived {
			state = "archived"
		}
		if v.NeedsRotation {
			state += ", key rotation pending"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", v.ID, shown(v.Name), v.Role, strings.Join(ms, ", "), v.KeyIndex, state)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	emergencyLines(con, emergencies, true)
	return nil
}

// vaults lists the user's vaults and the emergencies they see, through the
// app when it runs unlocked.
func (g *globalOptions) vaults(ctx context.Context, con *console) ([]client.VaultInfo, []client.EmergencyInfo, error) {
	if c := g.viaApp(ctx); c != nil {
		ans, err := c.Vaults(ctx)
		if err == nil && ans.Offline {
			g.appOffline(con)
		}
		return ans.Vaults, ans.Emergencies, err
	}
	s, err := g.unlock(ctx, con, true)
	if err != nil {
		return nil, nil, err
	}
	defer s.Close()
	vaults, err := s.Vaults()
	if err != nil {
		return nil, nil, err
	}
	return vaults, s.Emergencies(), nil
}

// memberText is a member as vault list shows it: a grant's end is in this
// device's zone, with the zone, as every time the command line prints.
func memberText(m client.Member) string {
	desc := shown(m.Email)
	if m.Unknown {
		desc = unknownPerson(m.UserID)
	}
	desc += " (" + m.Role.String()
	if !m.Until.IsZero() {
		desc += " until " + shownTime(m.Until)
	}
	return desc + ")"
}
