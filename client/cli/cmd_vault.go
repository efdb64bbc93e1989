package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/certificate"
)

func newVaultCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vault",
		Short: "Create, list, share and manage vaults (shared encrypted folders)",
		Long: `A vault is a shared encrypted folder. Roles: owner > manager > contributor >
reader. A manager grants only contributor and reader; an outsider can't be
owner or manager; nobody changes their own role. Removing a member rotates
the vault key: they can decrypt nothing written afterwards.`,
	}
	cmd.AddCommand(newVaultCreateCommand(g), newVaultListCommand(g), newVaultShareCommand(g),
		newVaultUnshareCommand(g), newVaultRotateCommand(g), newVaultRenameCommand(g), newVaultArchiveCommand(g))
	return cmd
}

func newVaultCreateCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "create NAME",
		Short: "Create a vault; you are its owner",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.unlock(cmd, false)
			if err != nil {
				return err
			}
			defer s.Close()
			info, err := s.CreateVault(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "vault %q created (id %s); you are its owner\n", info.Name, info.ID)
			return nil
		},
	}
}

func newVaultListCommand(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List your vaults with your role and their members",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.unlock(cmd, true)
			if err != nil {
				return err
			}
			defer s.Close()
			vaults, err := s.Vaults()
			if err != nil {
				return err
			}
			if asJSON {
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
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
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
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newVaultShareCommand(g *globalOptions) *cobra.Command {
	var until string
	var role string
	cmd := &cobra.Command{
		Use:   "share VAULT USER --role ROLE [--until DATE]",
		Short: "Share a vault with a user, or change their role",
		Long: `Give USER (id or email) a role in VAULT (name or id): owner, manager,
contributor or reader. With --until (RFC 3339 or YYYY-MM-DD), a contributor's or
reader's grant ends by itself at that moment: the server stops serving them and
the next owner or manager online rotates the key. Owners and managers keep
their role until another share or an unshare changes it.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := certificate.ParseRole(role)
			if err != nil {
				return err
			}
			var end time.Time
			if until != "" {
				if end, err = parseDate(until); err != nil {
					return err
				}
				if certificate.CheckGrantEnd(r, end) != nil {
					return errors.New("--until is for contributors and readers only: share as owner or manager without it, and end the role later with 'coffre vault share' or 'coffre vault unshare'")
				}
			}
			s, err := g.unlock(cmd, false)
			if err != nil {
				return err
			}
			defer s.Close()
			u, err := s.ShareVault(cmd.Context(), args[0], args[1], r, end)
			if err != nil {
				return err
			}
			msg := fmt.Sprintf("%s <%s> is now %s of %s", shown(u.Name), shown(u.Email), r, shown(args[0]))
			if !end.IsZero() {
				msg += " until " + end.Local().Format("2006-01-02 15:04 MST")
			}
			fmt.Fprintln(cmd.OutOrStdout(), msg)
			return nil
		},
	}
	cmd.Flags().StringVar(&role, "role", "reader", "owner, manager, contributor or reader")
	cmd.Flags().StringVar(&until, "until", "", "end of the grant (RFC 3339 or YYYY-MM-DD)")
	return cmd
}

func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("bad date %q: want RFC 3339 (2026-12-31T18:00:00+01:00) or YYYY-MM-DD", s)
}

func newVaultUnshareCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "unshare VAULT USER...",
		Short: "Remove members from a vault and rotate its key once",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.unlock(cmd, false)
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.UnshareVault(cmd.Context(), args[0], args[1:]...); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %s from %s; the vault key was rotated\n", shown(strings.Join(args[1:], ", ")), shown(args[0]))
			return nil
		},
	}
}

func newVaultRotateCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate VAULT",
		Short: "Give a vault a new key, sealed to its current members",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.unlock(cmd, false)
			if err != nil {
				return err
			}
			defer s.Close()
			info, err := s.RotateVault(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "vault %s now uses key %d\n", shown(info.Name), info.KeyIndex)
			return nil
		},
	}
}

func newVaultRenameCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "rename VAULT NEW-NAME",
		Short: "Rename a vault (owners and managers)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.unlock(cmd, false)
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.RenameVault(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "vault %s renamed to %s\n", shown(args[0]), shown(args[1]))
			return nil
		},
	}
}

func newVaultArchiveCommand(g *globalOptions) *cobra.Command {
	var undo bool
	cmd := &cobra.Command{
		Use:   "archive VAULT",
		Short: "Archive a vault: it stays readable, nobody writes (owners)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.unlock(cmd, false)
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.ArchiveVault(cmd.Context(), args[0], !undo); err != nil {
				return err
			}
			state := "archived"
			if undo {
				state = "restored"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "vault %s %s\n", shown(args[0]), state)
			return nil
		},
	}
	cmd.Flags().BoolVar(&undo, "undo", false, "restore an archived vault")
	return cmd
}
