package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client"
)

type invitationListOptions struct {
	json bool
}

func newInvitationListCommand(g *globalOptions) *cobra.Command {
	var opts invitationListOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the invitations you can greet",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInvitationList(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print JSON")
	return cmd
}

func runInvitationList(ctx context.Context, g *globalOptions, opts invitationListOptions, con *console) error {
	s, err := g.unlock(ctx, con, false)
	if err != nil {
		return err
	}
	defer s.Close()
	invs, err := s.Invitations(ctx)
	if err != nil {
		return err
	}
	if opts.json {
		if invs == nil {
			invs = []client.Invitation{}
		}
		return printJSON(con.out, invs)
	}
	tw := tabwriter.NewWriter(con.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tEMAIL\tPROFILE\tSTATE\tEXPIRES\tFAILED ATTEMPTS")
	for _, i := range invs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", shown(i.ID), shown(i.Kind), shown(i.Email), shown(i.Profile), shown(i.State), i.Expires.Format(time.RFC3339), i.Attempts)
	}
	return tw.Flush()
}
