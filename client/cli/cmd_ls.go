package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
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
	s, w, p, t, err := g.openVaultAt(ctx, con, opts.target, opts.at)
	if err != nil {
		return err
	}
	defer s.Close()
	items, err := w.List(p, t)
	if err != nil {
		return err
	}
	authors := map[string]string{}
	for _, u := range s.Organisation().Users() {
		authors[u.ID] = u.Email
	}
	if opts.json {
		type item struct {
			Name    string    `json:"name"`
			Folder  bool      `json:"folder"`
			Size    uint64    `json:"size"`
			Version uint64    `json:"version"`
			Updated time.Time `json:"updated"`
			Author  string    `json:"author"`
		}
		out := []item{}
		for _, i := range items {
			out = append(out, item{i.Name, i.Folder, i.Size, i.Version, i.Updated, authors[i.Author]})
		}
		return printJSON(con.out, out)
	}
	tw := tabwriter.NewWriter(con.out, 0, 4, 2, ' ', 0)
	for _, i := range items {
		name, size := shown(i.Name), fmt.Sprint(i.Size)
		if i.Folder {
			name, size = name+"/", "-"
		}
		fmt.Fprintf(tw, "%s\t%s\tv%d\t%s\t%s\n", name, size, i.Version, shownTime(i.Updated), shown(authors[i.Author]))
	}
	return tw.Flush()
}
