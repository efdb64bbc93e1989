package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/workspace"
	"github.com/coffre/coffre/workspace/syncer"
)

type syncOptions struct {
	all       bool
	once      bool
	scan      time.Duration
	settle    time.Duration
	debounce  time.Duration
	lockAfter time.Duration
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
			return runSync(cmd, g, opts, args)
		},
	}
	cmd.Flags().BoolVar(&opts.all, "all", false, "sync every vault into ROOT/<vault name>")
	cmd.Flags().BoolVar(&opts.once, "once", false, "sync once and exit (scripts)")
	cmd.Flags().DurationVar(&opts.scan, "scan-interval", 30*time.Second, "full scan period (catches what file events miss)")
	cmd.Flags().DurationVar(&opts.settle, "settle", 2*time.Second, "a file must be unchanged this long before it is uploaded")
	cmd.Flags().DurationVar(&opts.debounce, "debounce", 300*time.Millisecond, "wait for a burst of changes to end")
	cmd.Flags().DurationVar(&opts.lockAfter, "lock-after", 15*time.Minute, "forget the keys after this long without a change in the folder or an unlock (0: only 'coffre lock' locks)")
	return cmd
}

// syncTarget is one vault and its folder.
type syncTarget struct {
	vaultID, name, dir string
}

// syncFiles names a folder's journal and status file after a MAC of the
// folder's path: the names show no path (SPEC.md §12).
func syncFiles(home string, key crypto.SecretKey, vaultID, dir string) (journal, status string) {
	sum := key.MAC("sync-folder", []byte(dir))
	base := filepath.Join(home, "sync", fmt.Sprintf("%s-%x", vaultID, sum[:6]))
	return base + ".db", base + ".status.json"
}

func runSync(cmd *cobra.Command, g *globalOptions, opts syncOptions, args []string) error {
	if err := positive("scan-interval", opts.scan); err != nil {
		return err
	}
	for flag, d := range map[string]time.Duration{"settle": opts.settle, "debounce": opts.debounce, "lock-after": opts.lockAfter} {
		if d < 0 {
			return fmt.Errorf("--%s can't be negative (got %s)", flag, d)
		}
	}
	if !client.HasDevice(g.home) {
		return client.ErrNoDevice
	}
	pass, err := g.passphrase(newConsole(cmd), false)
	if err != nil {
		return err
	}
	u, err := client.Unlock(g.home, pass)
	if err != nil {
		return err
	}
	targets, err := syncTargets(cmd.Context(), u, opts, args)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(g.home, "sync"), 0o700); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	remote := map[string]chan struct{}{}
	for _, t := range targets {
		remote[t.vaultID] = make(chan struct{}, 1)
	}
	activity := make(chan struct{}, 1) // local changes: the person is there
	if !opts.once {
		go watchRemote(ctx, u, remote)
		wake := func() { // the runners report the new state at once
			for _, ch := range remote {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
		}
		stop, err := serveControl(ctx, g.home, u, opts.lockAfter, activity, wake)
		if err != nil {
			return fmt.Errorf("control socket: %w", err)
		}
		defer stop()
	}
	var mu sync.Mutex // one cycle at a time: they share the state file
	var wg sync.WaitGroup
	errs := make([]error, len(targets))
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = syncOne(ctx, cmd, u, t, opts, remote[t.vaultID], activity, &mu)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func syncTargets(ctx context.Context, u *client.Unlocked, opts syncOptions, args []string) ([]syncTarget, error) {
	s, err := u.Session()
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := s.Sync(ctx); err != nil && !errors.Is(err, client.ErrServerUnavailable) {
		return nil, err
	}
	if !opts.all {
		dir, err := filepath.Abs(args[1])
		if err != nil {
			return nil, err
		}
		v, info, err := s.FindVault(args[0])
		if err != nil {
			return nil, err
		}
		return []syncTarget{{vaultID: v.ID, name: info.Name, dir: dir}}, nil
	}
	root, err := filepath.Abs(args[0])
	if err != nil {
		return nil, err
	}
	vaults, err := s.Vaults()
	if err != nil {
		return nil, err
	}
	var out []syncTarget
	for _, v := range vaults {
		if workspace.ValidName(v.Name) != nil {
			return nil, fmt.Errorf("vault %s's name %q can't be a folder name: sync it alone", v.ID, v.Name)
		}
		out = append(out, syncTarget{vaultID: v.ID, name: v.Name, dir: filepath.Join(root, v.Name)})
	}
	if len(out) == 0 {
		return nil, errors.New("you are a member of no vault")
	}
	return out, nil
}

// watchRemote forwards the server's events to the vaults' runners, and
// reconnects when the stream breaks.
func watchRemote(ctx context.Context, u *client.Unlocked, remote map[string]chan struct{}) {
	poke := func(ch chan struct{}) {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	for ctx.Err() == nil {
		err := u.Watch(ctx, func(ev client.Event) {
			if ev.VaultID == "" { // the organisation changed: roles or keys may have
				for _, ch := range remote {
					poke(ch)
				}
				return
			}
			if ch, ok := remote[ev.VaultID]; ok {
				poke(ch)
			}
		})
		if ctx.Err() != nil {
			return
		}
		_ = err
		select {
		case <-ctx.Done():
		case <-time.After(3 * time.Second):
		}
	}
}

func syncOne(ctx context.Context, cmd *cobra.Command, u *client.Unlocked, t syncTarget, opts syncOptions, remote <-chan struct{}, activity chan<- struct{}, mu *sync.Mutex) error {
	if err := os.MkdirAll(t.dir, 0o700); err != nil {
		return err
	}
	key, err := u.SyncKey()
	if err != nil {
		return err
	}
	journalPath, statusPath := syncFiles(u.Home(), key, t.vaultID, t.dir)
	j, err := syncer.OpenJournal(journalPath, u.SyncKey)
	if err != nil {
		return fmt.Errorf("%s: %w", t.dir, err)
	}
	defer j.Close()
	engine := &syncer.Engine{
		Dir: t.dir, Journal: j, Device: u.DeviceLabel(), Settle: opts.settle,
		Open: func(ctx context.Context) (*workspace.Vault, func(), error) {
			mu.Lock()
			s, err := u.Session()
			if err != nil {
				mu.Unlock()
				return nil, nil, err
			}
			release := func() { s.Close(); mu.Unlock() }
			if err := s.Sync(ctx); err != nil {
				release()
				return nil, nil, err
			}
			v, err := s.OpenVault(ctx, t.vaultID)
			if err != nil {
				release()
				return nil, nil, err
			}
			return v, release, nil
		},
	}
	out := cmd.OutOrStdout()
	lastState, lastError := "", ""
	var sealed []byte // the names, as last sealed while unlocked
	report := func(st syncer.Status, res syncer.Result) {
		// Changes made in the folder (not those sync wrote there) show the
		// person is there: they keep the idle lock away.
		if res.Uploaded+res.DeletedRemote > 0 {
			select {
			case activity <- struct{}{}:
			default:
			}
		}
		st.Vault, st.Dir = t.name, t.dir
		if key, err := u.SyncKey(); err == nil {
			sealed = syncer.SealStatus(key, st)
		}
		syncer.WriteStatus(statusPath, st, sealed)
		if st.State == "syncing" {
			return
		}
		changed := st.State != lastState || st.LastError != lastError
		lastState, lastError = st.State, st.LastError
		if res.Busy() || (changed && st.State != "idle") {
			line := fmt.Sprintf("%s %s: %s, ↑%d ↓%d", time.Now().Format("15:04:05"), shown(t.name), st.State, res.Uploaded, res.Downloaded)
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
				line += ": " + st.LastError
			}
			fmt.Fprintln(out, line)
		}
	}
	offline := func(err error) bool { return errors.Is(err, client.ErrServerUnavailable) }
	if opts.once {
		res, err := engine.Cycle(ctx)
		st := syncer.Status{State: "idle", LastSync: time.Now(), Uploaded: res.Uploaded, Downloaded: res.Downloaded,
			Conflicts: res.Conflicts, Pending: res.Pending, PendingBytes: res.PendingBytes}
		if err != nil {
			st.State, st.LastError = "error", err.Error()
			if offline(err) {
				st.State = "offline"
			}
		}
		report(st, res)
		return err
	}
	fmt.Fprintf(out, "syncing %s with %s (Ctrl-C to stop)\n", shown(t.dir), shown(t.name))
	runner := &syncer.Runner{
		Engine: engine, Remote: remote, Scan: opts.scan, Debounce: opts.debounce,
		Offline: offline, Locked: u.Locked, Report: report,
	}
	return runner.Run(ctx)
}
