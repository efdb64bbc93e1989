package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client"
)

type vaultEmergencyOptions struct {
	reason string
	list   bool
	json   bool
}

func newVaultEmergencyCommand(g *globalOptions) *cobra.Command {
	var opts vaultEmergencyOptions
	cmd := &cobra.Command{
		Use:   "emergency VAULT --reason TEXT",
		Short: "Open a vault you are not a member of, for care, under its emergency policy",
		Long: `Break-glass access (SPEC.md §16). When a vault's owners set an emergency
policy naming you (by name, by profile, or as a member of an on-call vault),
you can read it for the policy's duration (4 hours by default) without being
a member:

  coffre vault emergency --list          the vaults you may open, by id
  coffre vault emergency VAULT_ID --reason "patient in resus, owner unreachable"

The reason is required. It is signed with your device key, kept forever in
the organisation log, and shown to every owner and manager of the vault
('coffre audit', 'coffre vault list'). It is not encrypted: the server sees
it too, so say why without naming the patient. If the policy names an approver, your
access starts when they run 'coffre vault emergency-approve'. The vault key
reaches you when a member of the vault next works in the vault (their
sync does it): nobody holds it for you in advance, not even the server.
Access ends by itself at the end printed here and can't be extended; the
key is then rotated.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVaultEmergency(cmd.Context(), g, opts, args, newConsole(cmd))
		},
	}
	cmd.Flags().StringVar(&opts.reason, "reason", "", "why you need this vault now (required; shown to its owners)")
	cmd.Flags().BoolVar(&opts.list, "list", false, "list the vaults whose emergency policy names you")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print JSON")
	return cmd
}

func runVaultEmergency(ctx context.Context, g *globalOptions, opts vaultEmergencyOptions, args []string, con *console) error {
	if !opts.list && len(args) == 0 {
		return errors.New("name the vault (its id: coffre vault emergency --list), or use --list")
	}
	if !opts.list && strings.TrimSpace(opts.reason) == "" {
		return errors.New(`--reason is required: say why you need this vault now, e.g. --reason "patient in resus, owner unreachable"`)
	}
	s, err := g.unlock(ctx, con, false)
	if err != nil {
		return err
	}
	defer s.Close()
	if opts.list {
		vaults := s.InvocableVaults()
		if opts.json {
			return printJSON(con.out, vaults)
		}
		tw := tabwriter.NewWriter(con.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCREATED BY\tDURATION\tAPPROVER")
		for _, v := range vaults {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.ID, shown(v.CreatedBy), v.Duration, shown(v.Approver))
		}
		return tw.Flush()
	}
	e, err := s.InvokeEmergency(ctx, args[0], opts.reason)
	if errors.Is(err, client.ErrUnknownVault) {
		// Not a member: the vault is known by the id the policies list.
		err = fmt.Errorf("%w (coffre vault emergency --list shows the ids)", err)
	}
	if err != nil {
		return err
	}
	if opts.json {
		return printJSON(con.out, e)
	}
	fmt.Fprintf(con.out, "emergency access to vault %s until %s; the owners and managers see it, with your reason\n", e.VaultID, shownTime(e.Until))
	if me, _ := s.Me(); e.NeedsApproval && !e.Approved {
		fmt.Fprintf(con.out, "it starts when the approver runs: coffre vault emergency-approve %s %s\n", e.VaultID, shown(me.Email))
	}
	fmt.Fprintf(con.out, "read it with: coffre ls %s:/ (the key arrives when a member's device next works in the vault)\n", e.VaultID)
	return nil
}

// emergencyLines prints, under a vault listing, the emergencies and
// takeovers this user sees (SPEC.md §16.3).
func emergencyLines(con *console, all []client.EmergencyInfo, running bool) {
	for _, e := range all {
		name := e.VaultID
		if e.VaultName != "" {
			name = shown(e.VaultName)
		}
		switch {
		case e.Kind == "takeover":
			fmt.Fprintf(con.out, "vault %s: ownership taken by %s on %s, reason %q\n", name, shown(e.User), shownTime(e.Start), shown(e.Reason))
		case e.Running:
			fmt.Fprintf(con.out, "vault %s: emergency access by %s until %s, reason %q\n", name, shown(e.User), shownTime(e.Until), shown(e.Reason))
		case running:
			continue
		case e.NeedsApproval && !e.Approved:
			fmt.Fprintf(con.out, "vault %s: emergency access by %s waits for approval, reason %q\n", name, shown(e.User), shown(e.Reason))
		}
	}
}
