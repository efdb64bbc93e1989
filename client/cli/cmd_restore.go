package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

type restoreOptions struct {
	target  string // VAULT:/path
	version versionFlag
}

func newRestoreCommand(g *globalOptions) *cobra.Command {
	var opts restoreOptions
	cmd := &cobra.Command{
		Use:   "restore VAULT:/path --version N",
		Short: "Make an old version of a file current again (as a new version)",
		Long: `Make version N of VAULT:/path (see coffre history) its current version again,
as a new signed version: the versions after N stay in the history. Nothing is
written on this device; to read an old version into a local file, use
coffre get --at DATE VAULT:/path FILE. A removed file comes back with
coffre undelete.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.target = args[0]
			return runRestore(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	cmd.Flags().Var(&opts.version, "version", "the version to restore, as coffre history lists it (v3 or 3)")
	cmd.MarkFlagRequired("version")
	return cmd
}

func runRestore(ctx context.Context, g *globalOptions, opts restoreOptions, con *console) error {
	s, w, p, err := g.openVault(ctx, con, opts.target)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := w.Restore(ctx, p, uint64(opts.version)); err != nil {
		return err
	}
	fmt.Fprintf(con.info, "%s restored from %s\n", shown(p), opts.version.String())
	return nil
}
