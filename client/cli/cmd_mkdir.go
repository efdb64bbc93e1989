package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

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
	s, w, p, err := g.openVault(ctx, con, opts.target)
	if err != nil {
		return err
	}
	defer s.Close()
	if opts.parents {
		if v, err := w.Stat(p, time.Time{}); err == nil && v.Manifest.Folder {
			fmt.Fprintf(con.info, "folder %s is already there\n", shown(p))
			return nil
		}
		err = w.MkdirAll(ctx, p)
	} else if err = w.Mkdir(ctx, p); errors.Is(err, workspace.ErrNotFound) {
		err = fmt.Errorf("%w (coffre mkdir -p makes the missing folders)", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(con.info, "folder %s created\n", shown(p))
	return nil
}
