package cli

import (
	"context"
	"os"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client/app"
	"github.com/coffre/coffre/client/transfer"
)

type putOptions struct {
	local  string // a file, a folder, or "-" for standard input
	target string // VAULT:/path
}

func newPutCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "put LOCAL VAULT:/path",
		Short: "Upload a file (or a folder, recursively) into a vault",
		Long: `Upload LOCAL to VAULT:/path, encrypted on this device, block by block (memory
stays flat whatever the size). An existing file gets a new version; the old
ones stay in its history. If someone else changed the file meanwhile, nothing
is written and you are told. Use '-' as LOCAL to read standard input.

As with cp, a file put onto a folder goes inside it (cardiology:/2026 or
cardiology:/2026/ puts report.pdf at /2026/report.pdf); a local folder put
onto a vault folder is merged into it, or goes inside it when the vault path
ends with '/'. The vault folders must exist: 'coffre mkdir -p' makes them.`,
		Example: "  coffre put report.pdf cardiology:/2026/\n  coffre put report.pdf cardiology:/2026/report-v2.pdf\n  coffre put ./scans cardiology:/scans",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPut(cmd.Context(), g, putOptions{local: args[0], target: args[1]}, newConsole(cmd))
		},
	}
}

func runPut(ctx context.Context, g *globalOptions, opts putOptions, con *console) error {
	if ok, err := g.transferViaApp(ctx, con, opts.local, func(c *app.Client, local string, fn func(app.TransferEvent)) error {
		return c.Put(ctx, app.TransferRequest{Local: local, Target: opts.target}, fn)
	}); ok {
		return err
	}
	s, w, p, err := g.openVault(ctx, con, opts.target)
	if err != nil {
		return err
	}
	defer s.Close()
	if opts.local == "-" || isRegularFile(opts.local) {
		// One file's blocks stream through a few buffers; a folder's
		// batches hold many files, and the collector would run without end.
		limitUploadMemory()
	}
	if opts.local == "-" {
		if p, err = transfer.Target(w, p, "", false); err != nil {
			return err
		}
		_, err := w.Put(ctx, p, con.stdin, nil)
		return err
	}
	progress := newTransferPrinter(con)
	defer progress.clear()
	return transfer.Put(ctx, w, opts.local, p, progress)
}

// isRegularFile says whether path names a regular file (links followed).
func isRegularFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
