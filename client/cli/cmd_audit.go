package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client"
)

type auditOptions struct {
	json, verify bool
	connections  int
}

func newAuditCommand(g *globalOptions) *cobra.Command {
	var opts auditOptions
	cmd := &cobra.Command{
		Use:   "audit [--verify] [--json]",
		Short: "Show the verified certificate history and the connection log (administrators)",
		Long: `Show who enrolled, revoked, shared, unshared and rotated what, when, signed by
which device — from the certificate log this device verified from the root
key — and the organisation's recent connections (device, time, address).

--verify fetches the whole log again from the server, verifies it from the
root key and compares it with what this device verified before, then does
the same for every vault log this device verified: a rollback, a gap or a
fork is reported with the first differing position, and the command fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAudit(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print JSON (for export)")
	cmd.Flags().BoolVar(&opts.verify, "verify", false, "re-fetch and re-check the whole log; fail on a fork, gap or rollback")
	cmd.Flags().IntVar(&opts.connections, "connections", 50, "how many recent connections to show (0: none)")
	return cmd
}

func runAudit(ctx context.Context, g *globalOptions, opts auditOptions, con *console) error {
	s, err := g.unlock(ctx, con, !opts.verify)
	if err != nil {
		return err
	}
	defer s.Close()
	if !s.IsAdmin() {
		return client.ErrNotAdmin
	}
	history, err := s.Audit()
	if err != nil {
		return err
	}
	var conns []client.Connection
	if opts.connections > 0 {
		if conns, err = s.Connections(ctx, true, opts.connections); err != nil {
			return err
		}
	}
	var report *client.AuditReport
	if opts.verify {
		r, err := s.VerifyAudit(ctx)
		if err != nil {
			return err
		}
		report = &r
	}
	devices := map[string]string{}
	for _, u := range s.Organisation().Users() {
		for _, d := range s.Organisation().Devices(u.ID) {
			devices[d.ID] = fmt.Sprintf("%s (%s)", person(u), shown(d.Label))
		}
	}
	out := con.out
	if opts.json {
		type conn struct {
			Device  string    `json:"device"`
			Who     string    `json:"who"`
			Time    time.Time `json:"time"`
			Address string    `json:"address"`
		}
		doc := struct {
			Certificates []client.AuditEntry `json:"certificates"`
			Connections  []conn              `json:"connections"`
			Verify       *client.AuditReport `json:"verify,omitempty"`
		}{Certificates: history, Connections: []conn{}, Verify: report}
		for _, c := range conns {
			doc.Connections = append(doc.Connections, conn{c.DeviceID, devices[c.DeviceID], c.Time, c.Address})
		}
		if err := printJSON(out, doc); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "POS\tTIME\tBY\tWHAT")
		for _, a := range history {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", a.Position, a.Time.Local().Format(secondsLayout), shown(a.Author), shown(a.Action))
		}
		tw.Flush()
		if len(conns) > 0 {
			fmt.Fprintln(out, "\nconnections (newest first):")
			tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			for _, c := range conns {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Time.Local().Format(secondsLayout), devices[c.DeviceID], shown(c.Address))
			}
			tw.Flush()
		}
		if report != nil {
			if report.Consistent {
				fmt.Fprintf(out, "\nverified: the server's log (%d entries, head %s) matches what this device verified\n", report.Positions, report.Head[:16])
			} else {
				fmt.Fprintf(out, "\nPROBLEM: %s\n", shown(report.Problem))
			}
			for _, p := range report.ServerMisbehaviour {
				fmt.Fprintf(out, "  %s\n", p)
			}
		}
	}
	if report != nil && !report.Consistent {
		return fmt.Errorf("audit found a problem: %s", report.Problem)
	}
	return nil
}
