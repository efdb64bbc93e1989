package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client/transfer"
)

type getOptions struct {
	target string // VAULT:/path
	local  string // a file, a folder, or "-" for standard output
	at     string
}

func newGetCommand(g *globalOptions) *cobra.Command {
	var opts getOptions
	cmd := &cobra.Command{
		Use:   "get VAULT:/path LOCAL",
		Short: "Download a file (or a folder, recursively) from a vault",
		Long: `Download VAULT:/path to LOCAL, checking every block against the signed
manifest. The file appears only once complete and verified; folders are
created private (0700). Use '-' as LOCAL to write a file to standard output
(each block once verified: a failure stops it with an error); --at reads the
vault as it was then.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.target, opts.local = args[0], args[1]
			return runGet(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	atFlag(cmd, &opts.at)
	return cmd
}

func runGet(ctx context.Context, g *globalOptions, opts getOptions, con *console) error {
	t, err := parseAt(opts.at)
	if err != nil {
		return err
	}
	sayAt(con, t)
	s, w, p, err := g.openVault(ctx, con, opts.target)
	if err != nil {
		return err
	}
	defer s.Close()
	if opts.local == "-" {
		// Streamed: the plaintext is staged nowhere (SPEC.md §9).
		_, err := w.WriteTo(ctx, p, t, con.out, nil)
		return err
	}
	progress := newTransferPrinter(con)
	defer progress.clear()
	return transfer.Get(ctx, w, p, t, opts.local, progress)
}
