package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/coffre/coffre/crypto"
)

// Status is what a running sync reports after each cycle; `coffre status`
// reads it from a file beside the journal.
type Status struct {
	Vault string `json:"vault"`
	Dir   string `json:"dir"`
	// State is syncing, idle, offline, error or locked, as the sync
	// wrote it; a reader that finds the sync gone says stopped.
	State        string    `json:"state"`
	PID          int       `json:"pid"`
	LastSync     time.Time `json:"last_sync,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
	Pending      int       `json:"pending"`
	PendingBytes int64     `json:"pending_bytes"`
	Uploaded     int       `json:"uploaded"`
	Downloaded   int       `json:"downloaded"`
	Conflicts    int       `json:"conflicts"`
	BytesUp      int64     `json:"bytes_up"`
	BytesDown    int64     `json:"bytes_down"`
	// LocalOnly lists what the vault can't take from this user (a
	// reader): it stays in the folder only.
	LocalOnly []string  `json:"local_only,omitempty"`
	Updated   time.Time `json:"updated"`
	// Sealed is, in the file, Vault, Dir and LastError encrypted under the
	// sync key (SealStatus); OpenStatus takes them out again.
	Sealed []byte `json:"sealed,omitempty"`
}

// statusNames is what a status file holds only encrypted: the vault's
// name, the folder, the last error (which may name a file) and the files
// left local only.
type statusNames struct {
	Vault     string   `json:"vault"`
	Dir       string   `json:"dir"`
	LastError string   `json:"last_error,omitempty"`
	LocalOnly []string `json:"local_only,omitempty"`
}

var statusAAD = []byte("coffre/v1/sync/status")

// SealStatus encrypts what in s names the vault, the folder or a file,
// for WriteStatus.
func SealStatus(key crypto.SecretKey, s Status) []byte {
	b, _ := json.Marshal(statusNames{s.Vault, s.Dir, s.LastError, s.LocalOnly})
	return key.Encrypt(statusAAD, b)
}

// OpenStatus fills in what SealStatus encrypted. A status that does not
// open keeps them empty.
func OpenStatus(key crypto.SecretKey, s Status) Status {
	var n statusNames
	if b, err := key.Decrypt(statusAAD, s.Sealed); err == nil && json.Unmarshal(b, &n) == nil {
		s.Vault, s.Dir, s.LastError, s.LocalOnly = n.Vault, n.Dir, n.LastError, n.LocalOnly
	}
	s.Sealed = nil
	return s
}

// WriteStatus writes a status file atomically, with sealed (SealStatus's
// output, kept from an earlier cycle while the keys are forgotten) in
// place of the names: none is written in clear (SPEC.md §12).
func WriteStatus(path string, s Status, sealed []byte) error {
	s.Updated = time.Now()
	s.PID = os.Getpid()
	s.Vault, s.Dir, s.LastError, s.LocalOnly, s.Sealed = "", "", "", nil, sealed
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadStatus reads a status file (names still sealed: see OpenStatus).
func ReadStatus(path string) (Status, error) {
	var s Status
	b, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(b, &s)
}

// Runner runs an engine continuously: on local changes (watched, plus a
// periodic scan that catches what the watcher misses), on remote events,
// with a short debounce, and with back-off while the server is away.
type Runner struct {
	Engine *Engine
	// Remote receives a value whenever the server says the vault changed.
	Remote <-chan struct{}
	// Scan is the period of the full scan.
	Scan time.Duration
	// Debounce gathers bursts of changes into one cycle.
	Debounce time.Duration
	// Offline reports whether an error means the server is unreachable.
	Offline func(error) bool
	// Locked reports whether the keys were forgotten (then the folder is
	// left as it is until they come back).
	Locked func() bool
	// Report is told the status after each cycle.
	Report func(Status, Result)
	// Fatal, if set, reports whether an error ends the run: Run reports
	// it and returns it instead of trying again (a device the server
	// refuses as revoked, whose caller must check its log, SPEC.md §15.3).
	Fatal func(error) bool
}

// Run syncs until ctx ends, or until a cycle fails with an error Fatal
// accepts, which it returns.
func (r *Runner) Run(ctx context.Context) error {
	watcher, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer watcher.Close()
	r.watchTree(watcher, r.Engine.Dir)

	kick := make(chan struct{}, 1)
	trigger := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	// A remote event needs no debounce: the server already wrote the
	// whole change.
	remoteKick := make(chan struct{}, 1)
	trigger() // the initial sync
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-watcher.Events:
				if !ok {
					return
				}
				if ev.Has(fsnotify.Create) {
					if info, err := os.Lstat(ev.Name); err == nil && info.IsDir() { // never a link: nothing outside the folder is watched
						r.watchTree(watcher, ev.Name)
					}
				}
				trigger()
			case <-watcher.Errors:
				trigger() // events may have been lost: scan
			case <-r.Remote:
				select {
				case remoteKick <- struct{}{}:
				default:
				}
			}
		}
	}()

	scan := time.NewTicker(r.Scan)
	defer scan.Stop()
	var st Status
	backoff := time.Second
	var retry <-chan time.Time
	for {
		debounce := r.Debounce
		select {
		case <-ctx.Done():
			return nil
		case <-kick:
		case <-remoteKick:
			debounce = time.Millisecond
		case <-scan.C:
		case <-retry:
		}
		// Debounce: wait for the burst to end. A remote change ends the
		// wait at once: the cycle leaves a local file still being written
		// pending until it settles (Engine.Settle), and our own writes of
		// the last download must not hold the next one back.
		t := time.NewTimer(debounce)
	drain:
		for {
			select {
			case <-kick:
				t.Reset(r.Debounce)
			case <-remoteKick:
				t.Stop()
				break drain
			case <-t.C:
				break drain
			case <-ctx.Done():
				t.Stop()
				return nil
			}
		}
		if r.Locked != nil && r.Locked() {
			st.State = "locked"
			r.report(st, Result{})
			retry = time.After(time.Second) // look again for the unlock
			continue
		}
		st.State = "syncing"
		r.report(st, Result{})
		res, err := r.Engine.Cycle(ctx)
		st.Uploaded += res.Uploaded
		st.Downloaded += res.Downloaded
		st.Conflicts += res.Conflicts
		st.BytesUp += res.BytesUp
		st.BytesDown += res.BytesDown
		st.Pending, st.PendingBytes = res.Pending, res.PendingBytes
		retry = nil
		switch {
		case err == nil:
			st.State, st.LastError, st.LastSync = "idle", "", time.Now()
			st.LocalOnly = res.LocalOnly
			backoff = time.Second
			if res.Pending > 0 {
				// Files still being written: look again once they settle.
				retry = time.After(r.Engine.Settle + r.Debounce)
			}
		case errors.Is(err, context.Canceled):
			return nil
		default:
			st.State, st.LastError = "error", err.Error()
			if r.Offline != nil && r.Offline(err) {
				st.State = "offline"
			}
			retry = time.After(backoff)
			backoff = min(2*backoff, 30*time.Second)
		}
		r.report(st, res)
		if err != nil && r.Fatal != nil && r.Fatal(err) {
			return err
		}
	}
}

func (r *Runner) report(st Status, res Result) {
	if r.Report != nil {
		r.Report(st, res)
	}
}

// watchTree watches a folder and every folder under it.
func (r *Runner) watchTree(w *fsnotify.Watcher, root string) {
	ignore := LoadIgnore(r.Engine.Dir)
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if rel, _ := filepath.Rel(r.Engine.Dir, p); rel != "." && ignore.Match(filepath.ToSlash(rel)) {
			return filepath.SkipDir
		}
		w.Add(p)
		return nil
	})
}
