package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client/app"
	"github.com/coffre/coffre/workspace"
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
	_, p, err := vaultPath(opts.target)
	if err != nil {
		return err
	}
	existed := false
	if c := g.viaApp(ctx); c != nil {
		err = c.PathOp(ctx, "mkdir", app.PathOp{Target: opts.target, Parents: opts.parents})
	} else {
		existed, err = g.mkdir(ctx, con, opts)
	}
	if !opts.parents && errors.Is(err, workspace.ErrNotFound) {
		err = fmt.Errorf("%w (coffre mkdir -p makes the missing folders)", err)
	}
	if err != nil {
		return err
	}
	if existed {
		fmt.Fprintf(con.info, "folder %s is already there\n", shown(p))
		return nil
	}
	fmt.Fprintf(con.info, "folder %s created\n", shown(p))
	return nil
}

// mkdir makes opts.target without the app; existed says -p found it there.
func (g *globalOptions) mkdir(ctx context.Context, con *console, opts mkdirOptions) (existed bool, err error) {
	s, w, p, err := g.openVault(ctx, con, opts.target)
	if err != nil {
		return false, err
	}
	defer s.Close()
	if opts.parents {
		if v, err := w.Stat(p, time.Time{}); err == nil && v.Manifest.Folder {
			return true, nil
		}
		return false, w.MkdirAll(ctx, p)
	}
	return false, w.Mkdir(ctx, p)
}
