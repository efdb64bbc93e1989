package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/certificate"
)

type vaultShareOptions struct {
	vault, user string
	role        string
	until       string
}

func newVaultShareCommand(g *globalOptions) *cobra.Command {
	var opts vaultShareOptions
	cmd := &cobra.Command{
		Use:   "share VAULT USER --role ROLE [--until DATE]",
		Short: "Share a vault with a user, or change their role",
		Long: `Give USER (id or email) a role in VAULT (name or id): owner, manager,
contributor or reader. With --until, a contributor's or reader's grant ends by
itself at that moment: the server stops serving them and the next owner or
manager online rotates the key. --until takes a date, meaning the end of that
day (2026-12-31: until midnight at its end), a date and time (2026-12-31
18:00), both in this device's zone, or RFC 3339; the command prints the
instant it took. Owners and managers keep their role until another share or
an unshare changes it.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.vault, opts.user = args[0], args[1]
			return runVaultShare(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	cmd.Flags().StringVar(&opts.role, "role", "reader", "owner, manager, contributor or reader")
	cmd.Flags().StringVar(&opts.until, "until", "", "end of the grant: 2026-12-31 (the end of that day), 2026-12-31 18:00 or RFC 3339")
	return cmd
}

func runVaultShare(ctx context.Context, g *globalOptions, opts vaultShareOptions, con *console) error {
	r, err := certificate.ParseRole(opts.role)
	if err != nil {
		return err
	}
	var end time.Time
	if opts.until != "" {
		if end, err = parseUntil(opts.until); err != nil {
			return err
		}
		if certificate.CheckGrantEnd(r, end) != nil {
			return errors.New("--until is for contributors and readers only: share as owner or manager without it, and end the role later with 'coffre vault share' or 'coffre vault unshare'")
		}
	}
	s, err := g.unlock(ctx, con, false)
	if err != nil {
		return err
	}
	defer s.Close()
	u, err := s.ShareVault(ctx, opts.vault, opts.user, r, end)
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("%s is now %s of %s", person(u), r, shown(opts.vault))
	if !end.IsZero() {
		msg += " until " + shownTime(end)
		if isDateOnly(opts.until) {
			msg += fmt.Sprintf(" (the end of %s)", end.Add(-time.Nanosecond).Local().Format(dateOnly))
		}
	}
	fmt.Fprintln(con.info, msg)
	return nil
}
