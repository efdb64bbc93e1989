package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client/app"
)

type rmOptions struct {
	target    string // VAULT:/path
	recursive bool
}

func newRmCommand(g *globalOptions) *cobra.Command {
	var opts rmOptions
	cmd := &cobra.Command{
		Use:   "rm [-r] VAULT:/path",
		Short: "Remove a file or a folder (its versions stay: get --at DATE reads it back)",
		Long: `Remove a file, or an empty folder; with -r, a folder and everything in it.
Nothing is erased: every version stays in the vault's history, and
'coffre get --at DATE' or 'coffre ls --at DATE' reads it as it was.`,
		Example: "  coffre rm cardiology:/2026/draft.pdf\n  coffre rm -r cardiology:/2025",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.target = args[0]
			return runRm(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	cmd.Flags().BoolVarP(&opts.recursive, "recursive", "r", false, "remove a folder with everything in it")
	return cmd
}

func runRm(ctx context.Context, g *globalOptions, opts rmOptions, con *console) error {
	if c := g.viaApp(ctx); c != nil {
		return c.PathOp(ctx, "rm", app.PathOp{Target: opts.target, Recursive: opts.recursive})
	}
	s, w, p, err := g.openVault(ctx, con, opts.target)
	if err != nil {
		return err
	}
	defer s.Close()
	if opts.recursive {
		return w.RemoveAll(ctx, p)
	}
	return w.Remove(ctx, p)
}
