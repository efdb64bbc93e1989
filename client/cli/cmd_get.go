package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client/app"
	"github.com/coffre/coffre/client/transfer"
)

type getOptions struct {
	target string // VAULT:/path
	local  string // a file, a folder, or "-" for standard output
	at     string
	force  bool
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
vault as it was then.

A local file in the way is never replaced unless --force: without it the
command stops before downloading anything. With --force each such file is
replaced atomically (the old file stays whole until the new one is complete
and verified). A folder is merged into an existing local folder; local files
the vault doesn't have are left alone.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.target, opts.local = args[0], args[1]
			return runGet(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	atFlag(cmd, &opts.at)
	cmd.Flags().BoolVar(&opts.force, "force", false, "replace local files that are in the way")
	return cmd
}

func runGet(ctx context.Context, g *globalOptions, opts getOptions, con *console) error {
	t, err := parseAt(opts.at)
	if err != nil {
		return err
	}
	sayAt(con, t)
	if ok, err := g.transferViaApp(ctx, con, opts.local, func(c *app.Client, local string, fn func(app.TransferEvent)) error {
		return c.Get(ctx, app.TransferRequest{Local: local, Target: opts.target, At: t, Force: opts.force}, fn)
	}); ok {
		return err
	}
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
	return transfer.Get(ctx, w, p, opts.local, transfer.GetOptions{At: t, Replace: opts.force}, progress)
}
