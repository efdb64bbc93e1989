// Package cli is the coffre command line: one file per command, each RunE
// only reading flags and calling the client package.
package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/internal/usage"
	"github.com/coffre/coffre/internal/version"
)

// Execute runs the coffre command line and returns the exit code.
func Execute() int {
	// Transfers stream a few blocks at a time; a soft memory limit keeps the
	// garbage collector from letting their buffers pile up (GOMEMLIMIT
	// overrides it).
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(128 << 20)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, g := newRootCommand()
	err := usage.UnknownCommand(root, os.Args[1:])
	if err == nil {
		err = root.ExecuteContext(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "coffre:", shown(message(err)))
		return exitCode(err)
	}
	if g.offline {
		return ExitOffline
	}
	return ExitOK
}

// uploadMemory is the memory a put may add to what the command holds when
// its upload starts: its blocks in flight (workspace.blocksInFlight, 8,
// each in a chunk buffer of 1.5 MiB or, for a longer chunk, 2 or 4 MiB),
// the chunker's and the transport's buffers, and room for the collector
// to work without running all the time (the upload makes little garbage).
// Under the limit the runtime also gives freed pages back to the system at
// once: without it a 10 GiB put's resident size rose 40 MB above its heap,
// freed buffers kept for reuse (issue 15).
const uploadMemory = 36 << 20

// limitUploadMemory lowers the soft memory limit to what the command holds
// now plus uploadMemory, for the upload that follows; GOMEMLIMIT, if set,
// is left alone. What it holds now (the vault's state, keys) is measured
// rather than assumed, so that a large vault does not make the collector
// run without end.
func limitUploadMemory() {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 {
		return
	}
	held := s[0].Value.Uint64() - s[1].Value.Uint64()
	debug.SetMemoryLimit(int64(held) + uploadMemory)
}

// globalOptions are the flags every command shares.
type globalOptions struct {
	home           string
	passphraseFile string
	// quiet silences progress and informational lines (console.info).
	quiet bool
	// offline is set when the command answers from local state because
	// the server can't be reached.
	offline bool
}

// NewRootCommand returns the root command with every subcommand.
func NewRootCommand() *cobra.Command {
	root, _ := newRootCommand()
	return root
}

func newRootCommand() (*cobra.Command, *globalOptions) {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "coffre",
		Short: "coffre: end-to-end encrypted document sharing that trusts no server",
		Long: `coffre keeps an organisation's documents encrypted and signed on each device;
the server stores and relays what it cannot read.

Getting started:
  coffre org bootstrap LINK --name NAME --email EMAIL   first administrator
  coffre user invite EMAIL                               invite a colleague
  coffre user greet                                      then compare codes with them
  coffre invitation claim LINK --name NAME               the colleague's side
  coffre status                                          who and where you are
  coffre vault create NAME / vault share NAME EMAIL --role contributor
  coffre put FILE NAME:/path / get NAME:/path FILE / ls NAME:/

Passphrase: asked on the terminal; scripts can set COFFRE_PASSPHRASE or pass
--passphrase-file FILE (first line). Codes during enrolment are read from the
terminal, or from standard input, one line each, when it is not a terminal.

` + exitStatusHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.home, "home", defaultHome(), "data directory of this device; env COFFRE_HOME")
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "print only what was asked for and errors: no progress, no informational lines")
	root.PersistentFlags().StringVar(&g.passphraseFile, "passphrase-file", "", "read the passphrase from the first line of this file instead of the terminal")
	root.AddCommand(
		newOrgCommand(g),
		newUserCommand(g),
		newDeviceCommand(g),
		newInvitationCommand(g),
		newStatusCommand(g),
		newVaultCommand(g),
		newLsCommand(g), newPutCommand(g), newGetCommand(g), newMkdirCommand(g),
		newMvCommand(g), newRmCommand(g), newHistoryCommand(g), newRestoreCommand(g),
		newSyncCommand(g), newLockCommand(g), newUnlockCommand(g), newAuditCommand(g),
		newAppCommand(g),
		newTrashCommand(g),
		newUndeleteCommand(g),
		newConfigCommand(g), version.Command(root),
	)
	usage.Mark(root)
	completeArgs(root, g)
	return root, g
}

// defaultHome is $COFFRE_HOME, else $XDG_DATA_HOME/coffre, else
// ~/.local/share/coffre.
func defaultHome() string {
	if h := os.Getenv("COFFRE_HOME"); h != "" {
		return h
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "coffre")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "coffre")
	}
	return "coffre"
}
