package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/client/syncservice"
	"github.com/coffre/coffre/workspace/syncer"
)

type syncOptions struct {
	all     bool
	args    []string // VAULT DIR, or ROOT with --all
	service syncservice.Options
}

func newSyncCommand(g *globalOptions) *cobra.Command {
	var opts syncOptions
	cmd := &cobra.Command{
		Use:   "sync VAULT DIR | sync --all ROOT",
		Short: "Keep a local folder and a vault in sync, both ways, until stopped",
		Long: `Keep DIR and VAULT in sync both ways until interrupted (Ctrl-C): local changes
are seen as they happen (and by a scan every --scan-interval), remote ones
through the server's events. Offline, edits are kept and pushed when the
server is back. When both sides changed a file, both are kept: the vault's
version under the name, yours as "name (conflict DEVICE TIME)". A file still
being written is not uploaded until it has not changed for --settle.

Editor and office temporary files are ignored, and so is anything matching
a line of DIR/.coffreignore (globs, like "*.bak" or "scratch/").
With --all, every vault you belong to is synced into ROOT/<vault name>.
'coffre lock' makes a running sync forget the keys (it then leaves the folder
as it is) until 'coffre unlock'; so does --lock-after (default 15 min) after
that long without a change in the folder. One-shot commands keep no keys:
each asks for the passphrase.
The state of each synced folder is shown by 'coffre status'.`,
		Example: "  coffre sync cardiology ~/Cardiology\n  coffre sync --all ~/coffre\n  coffre sync cardiology ~/Cardiology --once",
		Args: func(cmd *cobra.Command, args []string) error {
			if opts.all {
				return cobra.ExactArgs(1)(cmd, args)
			}
			return cobra.ExactArgs(2)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.args = args
			return runSync(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.all, "all", false, "sync every vault into ROOT/<vault name>")
	f.BoolVar(&opts.service.Once, "once", false, "sync once and exit (scripts)")
	f.DurationVar(&opts.service.Scan, "scan-interval", 30*time.Second, "full scan period (catches what file events miss)")
	f.DurationVar(&opts.service.Settle, "settle", 2*time.Second, "a file must be unchanged this long before it is uploaded")
	f.DurationVar(&opts.service.Debounce, "debounce", 300*time.Millisecond, "wait for a burst of changes to end")
	f.DurationVar(&opts.service.LockAfter, "lock-after", 15*time.Minute, "forget the keys after this long without a change in the folder or an unlock (0: only 'coffre lock' locks)")
	return cmd
}

func runSync(ctx context.Context, g *globalOptions, opts syncOptions, con *console) error {
	if err := positive("scan-interval", opts.service.Scan); err != nil {
		return err
	}
	for flag, d := range map[string]time.Duration{"settle": opts.service.Settle, "debounce": opts.service.Debounce, "lock-after": opts.service.LockAfter} {
		if d < 0 {
			return fmt.Errorf("--%s can't be negative (got %s)", flag, d)
		}
	}
	if !client.HasDevice(g.home) {
		return client.ErrNoDevice
	}
	pass, err := g.passphrase(con, false)
	if err != nil {
		return err
	}
	u, err := client.Unlock(g.home, pass)
	if err != nil {
		return err
	}
	var folders []syncservice.Folder
	if opts.all {
		folders, err = syncservice.AllFolders(ctx, u, opts.args[0])
	} else {
		var f syncservice.Folder
		f, err = syncservice.FolderOf(ctx, u, opts.args[0], opts.args[1])
		folders = []syncservice.Folder{f}
	}
	if err != nil {
		return err
	}
	s := &syncservice.Service{Keys: u, Folders: folders, Options: opts.service, Report: &syncPrinter{out: con.out, last: map[string]syncer.Status{}}}
	return s.Serve(ctx)
}

// syncPrinter prints a line when a folder's sync did something, or its
// state or error changed (idle is not news).
type syncPrinter struct {
	out  io.Writer
	last map[string]syncer.Status // by folder
}

func (p *syncPrinter) Watching(f syncservice.Folder) {
	fmt.Fprintf(p.out, "syncing %s with %s (Ctrl-C to stop)\n", shown(f.Dir), shown(f.Name))
}

func (p *syncPrinter) Cycle(f syncservice.Folder, st syncer.Status, res syncer.Result) {
	if st.State == "syncing" {
		return
	}
	last := p.last[f.Dir]
	changed := st.State != last.State || st.LastError != last.LastError
	p.last[f.Dir] = st
	if !res.Busy() && (!changed || st.State == "idle") {
		return
	}
	line := fmt.Sprintf("%s %s: %s, ↑%d ↓%d", time.Now().Format("15:04:05"), shown(f.Name), st.State, res.Uploaded, res.Downloaded)
	if res.DeletedLocal+res.DeletedRemote > 0 {
		line += fmt.Sprintf(", %d deleted", res.DeletedLocal+res.DeletedRemote)
	}
	if res.Conflicts > 0 {
		line += fmt.Sprintf(", %d conflicts kept as copies", res.Conflicts)
	}
	if st.Pending > 0 {
		line += fmt.Sprintf(", %d pending", st.Pending)
	}
	if res.Skipped > 0 {
		line += fmt.Sprintf(", %d not synced (links, or names another system can't hold: rename them)", res.Skipped)
	}
	if st.LastError != "" {
		line += ": " + hinted(st.LastError)
	}
	fmt.Fprintln(p.out, line)
}
