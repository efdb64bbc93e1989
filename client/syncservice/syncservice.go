// Package syncservice keeps local folders and vaults in sync, both ways,
// for as long as it runs: one workspace/syncer engine per vault, woken by
// the server's events and by changes in the folder, with the control
// socket (client/control) that locks and unlocks its keys.
package syncservice

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/client/control"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/wire"
	"github.com/coffre/coffre/workspace"
	"github.com/coffre/coffre/workspace/syncer"
)

// ErrNoVault is returned by AllFolders for a user who is a member of no
// vault: there is nothing to sync.
var ErrNoVault = errors.New("you are a member of no vault")

// Folder is one vault and the local folder it is synced with.
type Folder struct {
	VaultID, Name, Dir string
}

// Options are how often and how patiently a Service syncs.
type Options struct {
	// Once syncs each folder once and returns, with no control socket and
	// no watching.
	Once bool
	// Scan is the period of the full scan of a folder.
	Scan time.Duration
	// Settle is how long a file must stay unchanged to be uploaded.
	Settle time.Duration
	// Debounce gathers a burst of changes into one cycle.
	Debounce time.Duration
	// LockAfter forgets the keys after this long without the person: no
	// change in a folder, no coffre command run on the device
	// (control.Touch), no unlock; zero: only a lock request locks.
	LockAfter time.Duration
}

// Reporter is told what a Service does. Its methods are called from one
// goroutine at a time.
type Reporter interface {
	// Watching: the folder is synced continuously from now on.
	Watching(Folder)
	// Cycle: the state of the folder after a cycle, or while one runs
	// (State "syncing").
	Cycle(Folder, syncer.Status, syncer.Result)
}

// Service syncs Folders with the keys of an unlocked device until its
// context ends.
type Service struct {
	Keys    *client.Unlocked
	Folders []Folder
	Options
	// Report, if set, is told each folder's state.
	Report Reporter
	// Activity, if set, means the caller answers the control socket and
	// runs the idle lock (the app, SPEC.md §14): changes made in a folder
	// are sent there, and Serve makes no control socket of its own.
	Activity chan<- struct{}

	reportMu sync.Mutex
}

// Serve syncs every folder until ctx ends (or, with Once, syncs each once)
// and returns the folders' errors joined. When the server refuses this
// device as revoked (client.IsRevokedAnswer) every folder stops and Serve
// returns that refusal: the caller checks the device's own log before
// anything is erased (SPEC.md §15.3). It writes each folder's status
// beside its journal, where Statuses reads it.
func (s *Service) Serve(ctx context.Context) error {
	if err := os.MkdirAll(control.Dir(s.Keys.Home()), 0o700); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	remote := map[string]chan struct{}{}
	for _, f := range s.Folders {
		remote[f.VaultID] = make(chan struct{}, 1)
	}
	activity := make(chan struct{}, 1) // local changes: the person is there
	var changes chan<- struct{} = activity
	if s.Activity != nil {
		changes = s.Activity
	}
	var background sync.WaitGroup
	defer background.Wait() // the socket is gone when Serve returns
	defer cancel()
	if !s.Once {
		background.Add(1)
		go func() {
			defer background.Done()
			watchRemote(ctx, s.Keys, remote)
		}()
	}
	if !s.Once && s.Activity == nil {
		ctl := &control.Server{Keys: s.Keys, LockAfter: s.LockAfter, Activity: activity, Changed: func() {
			// the runners report the new state at once
			for _, ch := range remote {
				poke(ch)
			}
		}}
		if err := ctl.Listen(); err != nil {
			return fmt.Errorf("control socket: %w", err)
		}
		background.Add(1)
		go func() {
			defer background.Done()
			ctl.Serve(ctx)
		}()
	}
	var mu sync.Mutex // one cycle at a time: they share the state file
	var wg sync.WaitGroup
	errs := make([]error, len(s.Folders))
	for i, f := range s.Folders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.syncOne(ctx, f, remote[f.VaultID], changes, &mu)
			if client.IsRevokedAnswer(errs[i]) {
				cancel() // every folder stops: the caller checks the log (SPEC.md §15.3)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func poke(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// watchRemote forwards the server's events to the vaults' runners, and
// reconnects when the stream breaks.
func watchRemote(ctx context.Context, u *client.Unlocked, remote map[string]chan struct{}) {
	for ctx.Err() == nil {
		u.Watch(ctx, func(ev client.Event) {
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
		select {
		case <-ctx.Done():
		case <-time.After(3 * time.Second):
		}
	}
}

// offline reports whether err means the server can't be reached.
func offline(err error) bool { return errors.Is(err, client.ErrServerUnavailable) }

func (s *Service) syncOne(ctx context.Context, f Folder, remote <-chan struct{}, activity chan<- struct{}, mu *sync.Mutex) error {
	u := s.Keys
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return err
	}
	key, err := u.SyncKey()
	if err != nil {
		return err
	}
	journalPath, statusPath := files(u.Home(), key, f.VaultID, f.Dir)
	j, err := syncer.OpenJournal(journalPath, u.SyncKey)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Dir, err)
	}
	defer j.Close()
	var engine *syncer.Engine
	engine = &syncer.Engine{
		Dir: f.Dir, Journal: j, Device: u.DeviceLabel(), Settle: s.Settle,
		Open: func(ctx context.Context) (*workspace.Vault, func(), error) {
			mu.Lock()
			sess, err := u.Session()
			if err != nil {
				mu.Unlock()
				return nil, nil, err
			}
			release := func() { sess.Close(); mu.Unlock() }
			if err := sess.Sync(ctx); err != nil {
				release()
				return nil, nil, err
			}
			// A revoked device reads the log up to its revocation: its
			// own verified log says it may do nothing more, and Serve
			// stops for the caller's check (SPEC.md §15.3).
			if sess.Revoked() != nil {
				release()
				return nil, nil, wire.ErrDeviceRevoked
			}
			// The upkeep first (a rotation, a checkpoint): a sync writes.
			v, _, err := sess.PrepareVault(ctx, f.VaultID)
			if err != nil {
				release()
				return nil, nil, err
			}
			engine.Device = copyOwner(sess)
			return v, release, nil
		},
	}
	var sealed []byte // the names, as last sealed while unlocked
	report := func(st syncer.Status, res syncer.Result) {
		// Changes made in the folder (not those sync wrote there) show the
		// person is there: they keep the idle lock away.
		if res.Uploaded+res.DeletedRemote > 0 {
			poke(activity)
		}
		st.Vault, st.Dir = f.Name, f.Dir
		if key, err := u.SyncKey(); err == nil {
			sealed = syncer.SealStatus(key, st)
		}
		syncer.WriteStatus(statusPath, st, sealed)
		s.cycle(f, st, res)
	}
	if s.Once {
		res, err := engine.Cycle(ctx)
		st := syncer.Status{State: "idle", LastSync: time.Now(), Uploaded: res.Uploaded, Downloaded: res.Downloaded,
			Conflicts: res.Conflicts, Pending: res.Pending, PendingBytes: res.PendingBytes, LocalOnly: res.LocalOnly}
		if err != nil {
			st.State, st.LastError = "error", err.Error()
			if offline(err) {
				st.State = "offline"
			}
		}
		report(st, res)
		return err
	}
	s.watching(f)
	runner := &syncer.Runner{
		Engine: engine, Remote: remote, Scan: s.Scan, Debounce: s.Debounce,
		Offline: offline, Locked: u.Locked, Report: report,
		Fatal: client.IsRevokedAnswer,
	}
	return runner.Run(ctx)
}

func (s *Service) watching(f Folder) {
	if s.Report != nil {
		s.reportMu.Lock()
		defer s.reportMu.Unlock()
		s.Report.Watching(f)
	}
}

func (s *Service) cycle(f Folder, st syncer.Status, res syncer.Result) {
	if s.Report != nil {
		s.reportMu.Lock()
		defer s.reportMu.Unlock()
		s.Report.Cycle(f, st, res)
	}
}

// files names a folder's journal and status file after a MAC of the
// folder's path: the names show no path (SPEC.md §12).
func files(home string, key crypto.SecretKey, vaultID, dir string) (journal, status string) {
	sum := key.MAC("sync-folder", []byte(dir))
	base := filepath.Join(home, "sync", fmt.Sprintf("%s-%x", vaultID, sum[:6]))
	return base + ".db", base + ".status.json"
}

// Stopped is the State Statuses gives a folder whose sync no longer runs
// (it ended, or was killed: its status file stays).
const Stopped = "stopped"

// Statuses reads the status files that the syncs of the data directory
// home keep, opened with the device's sync key. A status whose sync no
// longer answers on its control socket says Stopped, whatever it said
// last: a killed sync is not shown as idle.
func Statuses(home string, key crypto.SecretKey) []syncer.Status {
	paths, _ := filepath.Glob(filepath.Join(home, "sync", "*.status.json"))
	out := []syncer.Status{}
	for _, p := range paths {
		if st, err := syncer.ReadStatus(p); err == nil {
			st = syncer.OpenStatus(key, st)
			if st.PID == 0 || !control.Running(home, st.PID) {
				st.State = Stopped
			}
			out = append(out, st)
		}
	}
	return out
}

// copyOwner is who conflict copies made on this device name: the user,
// and the device's label when the user has another device, so that a
// colleague sees whose version it is (the host name told them nothing).
func copyOwner(s *client.Session) string {
	me, ok := s.Me()
	if !ok {
		return s.Identity().DeviceLabel
	}
	if len(s.Organisation().Devices(me.ID)) > 1 {
		return me.Name + " " + s.Identity().DeviceLabel
	}
	return me.Name
}
