package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
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
server is back. Each file moved is named as it is. When both sides changed a
file, both are kept: the vault's version under the name, yours as
"name (conflict YOUR NAME TIME)" (with this device's label too if you have
several devices). A file still being written is not uploaded until it has
not changed for --settle. In a vault you can only read, what you add or
edit stays in the folder only: it is named, and listed by 'coffre status'.

Editor and office temporary files are ignored, and so is anything matching
a line of DIR/.coffreignore (globs, like "*.bak" or "scratch/").
With --all, every vault you belong to is synced into ROOT/<vault name>.
'coffre lock' makes a running sync forget the keys (it then leaves the folder
as it is, and says "locked: run coffre unlock") until 'coffre unlock'; so
does --lock-after (default 15 min) after that long without you: no change in
the folder, no coffre command run on this device, no unlock. Other coffre
commands work while a sync runs; they keep no keys: each asks for the
passphrase. 'coffre status' shows each synced folder, and whether its sync
is running, locked or stopped.

When the server refuses this device as revoked, the sync stops, checks the
revocation in the organisation log it verifies itself, and only then
erases this device's copies as every command does: synced files unchanged
since the last sync are deleted, the others kept aside in DIR.kept-DATE;
it then exits with "this device has been revoked".`,
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
	f.DurationVar(&opts.service.LockAfter, "lock-after", 15*time.Minute, "forget the keys after this long without you (no folder change, coffre command or unlock; 0: only 'coffre lock' locks)")
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
		return g.noDevice(ctx)
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
	if err == nil {
		s := &syncservice.Service{Keys: u, Folders: folders, Options: opts.service, Report: newSyncPrinter(con.out, con.info)}
		err = s.Serve(ctx) // every folder has stopped when it returns
	}
	if client.IsRevokedAnswer(err) {
		return wipeRevokedSync(ctx, u, con)
	}
	return err
}

// wipeRevokedSync is what a sync does when the server refuses the device
// as revoked: as every command does (wipeIfRevoked), it checks the
// revocation in its own verified log, and only then erases; then it
// exits. Every folder's sync has stopped already, so none writes into a
// folder being cleaned.
func wipeRevokedSync(ctx context.Context, u *client.Unlocked, con *console) error {
	s, err := u.Session()
	if err != nil {
		return err
	}
	defer s.Close()
	return wipeIfRevoked(ctx, s, con)
}

// syncPrinter prints a line when a folder's sync did something, or its
// state or error changed (idle is not news), then the files it moved, one
// a line. What needs the person (a lock, an error, files kept local only)
// goes to out; what it moved goes to news, which --quiet silences.
type syncPrinter struct {
	out, news io.Writer
	last      map[string]syncer.Status // by folder
	localOnly map[string]string        // by folder: the list last printed
}

func newSyncPrinter(out, news io.Writer) *syncPrinter {
	return &syncPrinter{out: out, news: news, last: map[string]syncer.Status{}, localOnly: map[string]string{}}
}

// maxNamed bounds the files named after one cycle; the rest are counted.
const maxNamed = 20

// lockedHint is what a locked sync says, in its output and in 'coffre
// status': it no longer receives colleagues' files until then.
const lockedHint = "locked: run coffre unlock"

func (p *syncPrinter) Watching(f syncservice.Folder) {
	fmt.Fprintf(p.news, "syncing %s with %s (Ctrl-C to stop)\n", shown(f.Dir), shown(f.Name))
}

func (p *syncPrinter) Cycle(f syncservice.Folder, st syncer.Status, res syncer.Result) {
	if st.State == "syncing" {
		return
	}
	last := p.last[f.Dir]
	changed := st.State != last.State || st.LastError != last.LastError
	p.last[f.Dir] = st
	now := time.Now().Format("15:04:05")
	if st.State == "locked" {
		if changed {
			fmt.Fprintf(p.out, "%s %s: %s\n", now, shown(f.Name), lockedHint)
		}
		return
	}
	p.printLocalOnly(f, st, now)
	if !res.Busy() && (!changed || st.State == "idle") {
		return
	}
	line := fmt.Sprintf("%s %s: %s, ↑%d ↓%d", now, shown(f.Name), st.State, res.Uploaded, res.Downloaded)
	if res.DeletedLocal+res.DeletedRemote > 0 {
		line += fmt.Sprintf(", %d deleted", res.DeletedLocal+res.DeletedRemote)
	}
	if res.Conflicts > 0 {
		line += fmt.Sprintf(", %d conflicts kept as copies", res.Conflicts)
	}
	if res.Moved > 0 {
		line += fmt.Sprintf(", %d moved where another device moved them", res.Moved)
	}
	if st.Pending > 0 {
		line += fmt.Sprintf(", %d pending", st.Pending)
	}
	if res.Skipped > 0 {
		line += fmt.Sprintf(", %d not synced (links, or names another system can't hold: rename them)", res.Skipped)
	}
	w := p.news
	if st.LastError != "" {
		line += ": " + hinted(st.LastError)
		w = p.out
	}
	fmt.Fprintln(w, line)
	for i, c := range res.Changes {
		if i == maxNamed {
			fmt.Fprintf(p.news, "  … and %d more\n", len(res.Changes)-maxNamed)
			break
		}
		fmt.Fprintln(p.news, "  "+changeLine(c))
	}
}

// printLocalOnly names the files the vault can't take from this user,
// when that list changed.
func (p *syncPrinter) printLocalOnly(f syncservice.Folder, st syncer.Status, now string) {
	key := strings.Join(st.LocalOnly, "\x00")
	if st.State != "idle" || key == p.localOnly[f.Dir] {
		return
	}
	p.localOnly[f.Dir] = key
	if len(st.LocalOnly) == 0 {
		fmt.Fprintf(p.out, "%s %s: nothing left local only\n", now, shown(f.Name))
		return
	}
	fmt.Fprintf(p.out, "%s %s: %d kept local only (you can only read this vault):\n", now, shown(f.Name), len(st.LocalOnly))
	for i, name := range st.LocalOnly {
		if i == maxNamed {
			fmt.Fprintf(p.out, "  … and %d more (coffre status lists them)\n", len(st.LocalOnly)-maxNamed)
			break
		}
		fmt.Fprintln(p.out, "  local only "+shown(name))
	}
}

func changeLine(c syncer.Change) string {
	switch c.Op {
	case syncer.Uploaded:
		return "↑ " + shown(c.Path)
	case syncer.Downloaded:
		return "↓ " + shown(c.Path)
	case syncer.DeletedLocal:
		return "deleted here (removed in the vault) " + shown(c.Path)
	case syncer.DeletedRemote:
		return "deleted in the vault " + shown(c.Path)
	case syncer.ConflictCopy:
		return "conflict on " + shown(c.Path) + ": your version kept as " + shown(c.Copy)
	case syncer.Moved:
		return "moved " + shown(c.From) + " to " + shown(c.Path) + ", where another device moved it too"
	}
	return string(c.Op) + " " + shown(c.Path)
}
