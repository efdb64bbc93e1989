package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client/app"
)

type lsOptions struct {
	target string // VAULT:/path
	at     string
	json   bool
}

func newLsCommand(g *globalOptions) *cobra.Command {
	var opts lsOptions
	cmd := &cobra.Command{
		Use:     "ls VAULT:/path",
		Short:   "List a folder of a vault",
		Example: "  coffre ls cardiology:/\n  coffre ls cardiology:/2026 --at 2026-11-01 --json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.target = args[0]
			return runLs(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print JSON")
	atFlag(cmd, &opts.at)
	return cmd
}

func atFlag(cmd *cobra.Command, at *string) {
	cmd.Flags().StringVar(at, "at", "", "read the vault as it was then: 2026-12-05 (its start), 2026-12-05 08:03 (this device's zone) or RFC 3339")
}

func runLs(ctx context.Context, g *globalOptions, opts lsOptions, con *console) error {
	t, err := parseAt(opts.at)
	if err != nil {
		return err
	}
	sayAt(con, t)
	items, err := g.lsItems(ctx, con, opts.target, t)
	if err != nil {
		return err
	}
	if opts.json {
		return printJSON(con.out, items)
	}
	tw := tabwriter.NewWriter(con.out, 0, 4, 2, ' ', 0)
	for _, i := range items {
		name, size := shown(i.Name), fmt.Sprint(i.Size)
		if i.Folder {
			name, size = name+"/", "-"
		}
		fmt.Fprintf(tw, "%s\t%s\tv%d\t%s\t%s\n", name, size, i.Version, shownTime(i.Updated), shown(i.Author))
	}
	return tw.Flush()
}

// lsItems lists target as of t, through the app when it runs unlocked.
func (g *globalOptions) lsItems(ctx context.Context, con *console, target string, t time.Time) ([]app.LsItem, error) {
	if c := g.viaApp(ctx); c != nil {
		return c.Ls(ctx, target, t)
	}
	s, w, p, err := g.openVault(ctx, con, target)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return app.ListItems(s, w, p, t)
}
