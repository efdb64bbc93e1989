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
	vaults, err := g.vaults(ctx, con)
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
		}
		out := []vault{}
		for _, v := range vaults {
			j := vault{ID: v.ID, Name: v.Name, Role: v.Role.String(), KeyIndex: v.KeyIndex, Archived: v.Archived, NeedsRotation: v.NeedsRotation, Members: []member{}, Offline: g.offline}
			for _, m := range v.Members {
				mj := member{UserID: m.UserID, Name: m.Name, Email: m.Email, Role: m.Role.String()}
				if !m.Until.IsZero() {
					u := m.Until
					mj.Until = &u
				}
				j.Members = append(j.Members, mj)
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
			desc := shown(m.Email) + " (" + m.Role.String()
			if !m.Until.IsZero() {
				desc += " until " + m.Until.Local().Format("2006-01-02 15:04")
			}
			ms = append(ms, desc+")")
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
	return tw.Flush()
}

// vaults lists the user's vaults, through the app when it runs unlocked.
func (g *globalOptions) vaults(ctx context.Context, con *console) ([]client.VaultInfo, error) {
	if c := g.viaApp(ctx); c != nil {
		ans, err := c.Vaults(ctx)
		if err == nil && ans.Offline {
			g.appOffline(con)
		}
		return ans.Vaults, err
	}
	s, err := g.unlock(ctx, con, true)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Vaults()
}
