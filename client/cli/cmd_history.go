package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

type historyOptions struct {
	target string // VAULT:/path
	json   bool
}

func newHistoryCommand(g *globalOptions) *cobra.Command {
	var opts historyOptions
	cmd := &cobra.Command{
		Use:   "history VAULT:/path",
		Short: "List every version of a file or folder, with its author",
		Long: `List every version of VAULT:/path: the author is the device whose signature
was verified, never what the server says.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.target = args[0]
			return runHistory(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print JSON")
	return cmd
}

func runHistory(ctx context.Context, g *globalOptions, opts historyOptions, con *console) error {
	s, w, p, err := g.openVault(ctx, con, opts.target)
	if err != nil {
		return err
	}
	defer s.Close()
	versions, err := w.History(p)
	if err != nil {
		return err
	}
	type version struct {
		Version uint64    `json:"version"`
		Size    uint64    `json:"size"`
		Time    time.Time `json:"time"`
		Author  string    `json:"author"`
		Device  string    `json:"device"`
	}
	var out []version
	for _, v := range versions {
		author := v.User
		if u, ok := s.Organisation().User(v.User); ok {
			author = personEmail(u)
		}
		out = append(out, version{v.Version, v.Manifest.Size, v.Time, author, v.Author})
	}
	if opts.json {
		return printJSON(con.out, out)
	}
	tw := tabwriter.NewWriter(con.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSIZE\tTIME\tAUTHOR")
	for _, v := range out {
		fmt.Fprintf(tw, "v%d\t%d\t%s\t%s\n", v.Version, v.Size, v.Time.Local().Format(secondsLayout), shown(v.Author))
	}
	return tw.Flush()
}
