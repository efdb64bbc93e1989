package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

type undeleteOptions struct {
	target  string // VAULT:/path
	version string // "", "3" or "v3"
}

func newUndeleteCommand(g *globalOptions) *cobra.Command {
	var opts undeleteOptions
	cmd := &cobra.Command{
		Use:   "undelete VAULT:/path [--version N]",
		Short: "Bring back a removed file or folder (a folder with what it held)",
		Long: `Bring back what was removed at VAULT:/path (see coffre trash), as a new signed
version: nothing in the history is rewritten. A file comes back with the
version it had when removed, or --version N (as coffre trash and history print
it, v3 or 3); a folder comes back with the files and folders it held then.
The folder it was in must exist and the name be free: move away a file that
took the name meanwhile.`,
		Example: "  coffre undelete cardiology:/2026/scan.pdf\n  coffre undelete cardiology:/2026/scan.pdf --version v1\n  coffre undelete cardiology:/2026",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.target = args[0]
			return runUndelete(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	cmd.Flags().StringVar(&opts.version, "version", "", "the version to bring back (default: the one it had when removed)")
	return cmd
}

func runUndelete(ctx context.Context, g *globalOptions, opts undeleteOptions, con *console) error {
	var version uint64
	if opts.version != "" {
		n, err := strconv.ParseUint(strings.TrimPrefix(opts.version, "v"), 10, 64)
		if err != nil || n == 0 {
			return fmt.Errorf("--version %q: want a version number as coffre trash prints it (v3 or 3)", opts.version)
		}
		version = n
	}
	s, w, p, err := g.openVault(ctx, con, opts.target)
	if err != nil {
		return err
	}
	defer s.Close()
	v, err := w.Undelete(ctx, p, version)
	if err != nil {
		return err
	}
	what := "file"
	if v.Manifest.Folder {
		what = "folder"
	}
	fmt.Fprintf(con.info, "%s is back (%s, v%d)\n", shown(p), what, v.Version)
	return nil
}
