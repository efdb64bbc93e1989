package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client/app"
)

type mkdirOptions struct {
	target  string // VAULT:/path
	parents bool
}

func newMkdirCommand(g *globalOptions) *cobra.Command {
	var opts mkdirOptions
	cmd := &cobra.Command{
		Use:     "mkdir [-p] VAULT:/path",
		Short:   "Create a folder in a vault",
		Long:    "Create a folder; its parent must exist, unless -p makes the missing ones\n(with -p, a folder that exists already is no error).",
		Example: "  coffre mkdir cardiology:/2026\n  coffre mkdir -p cardiology:/2026/12/scans",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.target = args[0]
			return runMkdir(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	cmd.Flags().BoolVarP(&opts.parents, "parents", "p", false, "make missing parent folders too; no error if it exists")
	return cmd
}

func runMkdir(ctx context.Context, g *globalOptions, opts mkdirOptions, con *console) error {
	if c := g.viaApp(ctx); c != nil {
		return c.PathOp(ctx, "mkdir", app.PathOp{Target: opts.target, Parents: opts.parents})
	}
	s, w, p, err := g.openVault(ctx, con, opts.target)
	if err != nil {
		return err
	}
	defer s.Close()
	if opts.parents {
		return w.MkdirAll(ctx, p)
	}
	return w.Mkdir(ctx, p)
}
