package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

type deviceListJSON struct {
	ID             string     `json:"id"`
	Label          string     `json:"label"`
	Enrolled       time.Time  `json:"enrolled"`
	EnrolledBy     string     `json:"enrolled_by,omitempty"` // email; empty for the root key
	Revoked        *time.Time `json:"revoked,omitempty"`
	RevokedBy      string     `json:"revoked_by,omitempty"`
	LastConnection *time.Time `json:"last_connection,omitempty"`
	LastAddress    string     `json:"last_address,omitempty"`
	This           bool       `json:"this_device,omitempty"`
	// NoSealKey: enrolled before device seal keys, it can't receive a
	// rotation of the user's keys (SPEC.md §15.2): enrol it again.
	NoSealKey bool `json:"no_seal_key,omitempty"`
	Offline   bool `json:"offline,omitempty"` // from local state: the server can't be reached (exit status 3)
}

type deviceListOptions struct{ json bool }

func newDeviceListCommand(g *globalOptions) *cobra.Command {
	var opts deviceListOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List your devices: when and by whom each was enrolled, its last connection",
		Long: `List your devices as the verified organisation log describes them, revoked
ones included, with the last connection the server recorded for each. The
device you are on is marked with *. Revoke a lost one with
'coffre device revoke DEVICE'. A device enrolled before device seal keys
is shown "no seal key": it can't receive your new user keys after a
revocation (SPEC.md §15.2); enrol a new device in its place.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDeviceList(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print JSON")
	return cmd
}

func runDeviceList(ctx context.Context, g *globalOptions, opts deviceListOptions, con *console) error {
	s, err := g.unlock(ctx, con, true)
	if err != nil {
		return err
	}
	defer s.Close()
	devices, err := s.Devices(ctx, !g.offline)
	if err != nil {
		return err
	}
	out := []deviceListJSON{}
	for _, d := range devices {
		j := deviceListJSON{ID: d.ID, Label: d.Label, Enrolled: d.CreatedAt, EnrolledBy: d.CreatedBy, This: d.This, Offline: g.offline, NoSealKey: d.NoSealKey}
		if d.Revoked {
			t := d.RevokedAt
			j.Revoked, j.RevokedBy = &t, d.RevokedBy
		}
		if !d.LastConnection.IsZero() {
			t := d.LastConnection
			j.LastConnection, j.LastAddress = &t, d.LastAddress
		}
		out = append(out, j)
	}
	if opts.json {
		return printJSON(con.out, out)
	}
	tw := tabwriter.NewWriter(con.out, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "\tDEVICE\tLABEL\tENROLLED\tBY\tLAST CONNECTION\tSTATE")
	for _, d := range out {
		mark, by, last, state := "", d.EnrolledBy, "-", "active"
		if d.This {
			mark = "*"
		}
		if by == "" {
			by = "(organisation root key)"
		}
		if d.LastConnection != nil {
			last = shownTime(*d.LastConnection)
		} else if g.offline {
			last = "(offline)"
		}
		if d.Revoked != nil {
			state = "revoked " + shownTime(*d.Revoked) + " by " + shown(d.RevokedBy)
		} else if d.NoSealKey {
			state = "active, no seal key: can't receive new user keys (enrol it again)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", mark, d.ID, shown(d.Label), shownTime(d.Enrolled), shown(by), last, state)
	}
	return tw.Flush()
}
