package syncservice_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/client/control"
	"github.com/coffre/coffre/client/syncservice"
	"github.com/coffre/coffre/tests/hostile"
	"github.com/coffre/coffre/workspace/syncer"
)

func TestMain(m *testing.M) {
	hostile.FastKeys()
	os.Exit(hostile.Main(m))
}

func bg() context.Context { return context.Background() }

// device bootstraps a device on srv, with the vaults named, and returns
// its data directory and unlocked keys.
func device(t *testing.T, srv *hostile.Server, vaults ...string) (string, *client.Unlocked) {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	s := hostile.Bootstrap(t, srv, home)
	for _, name := range vaults {
		if _, err := s.CreateVault(bg(), name); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	u, err := client.Unlock(home, hostile.Passphrase)
	if err != nil {
		t.Fatal(err)
	}
	return home, u
}

// inVault reports whether the vault holds p, as seen from a new session.
func inVault(t *testing.T, u *client.Unlocked, vault, p string) bool {
	t.Helper()
	s, err := u.Session()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Sync(bg()); err != nil {
		t.Fatal(err)
	}
	v, err := s.OpenVault(bg(), vault)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Stat(p, time.Time{})
	return err == nil
}

// recorder keeps what a Service reports.
type recorder struct {
	mu       sync.Mutex
	watching []syncservice.Folder
	cycles   []syncer.Status
	results  []syncer.Result
}

func (r *recorder) Watching(f syncservice.Folder) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.watching = append(r.watching, f)
}

func (r *recorder) Cycle(f syncservice.Folder, st syncer.Status, res syncer.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cycles = append(r.cycles, st)
	r.results = append(r.results, res)
}

// waitFor waits until ok holds for what was reported.
func (r *recorder) waitFor(t *testing.T, what string, ok func(st syncer.Status, res syncer.Result) bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for i := range r.cycles {
			if ok(r.cycles[i], r.results[i]) {
				r.mu.Unlock()
				return
			}
		}
		r.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no report of %s in a minute: %+v", what, r.cycles)
}

// serve runs a Service on f (scanning every second, with a short debounce
// unless opts say otherwise) until its first cycle is reported, and
// returns the function that stops it and returns Serve's error.
func serve(t *testing.T, f syncservice.Folder, u *client.Unlocked, rec *recorder, opts syncservice.Options) (stop func() error) {
	t.Helper()
	if opts.Scan == 0 {
		opts.Scan = time.Second
	}
	if opts.Debounce == 0 {
		opts.Debounce = 50 * time.Millisecond
	}
	s := &syncservice.Service{Keys: u, Folders: []syncservice.Folder{f}, Report: rec, Options: opts}
	ctx, cancel := context.WithCancel(bg())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(cancel)
	rec.waitFor(t, "the first cycle", func(st syncer.Status, _ syncer.Result) bool { return st.State == "idle" })
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return errors.New("Serve did not return after its context ended")
		}
	}
}

// TestFolders: one vault by name, or every vault into a folder of its
// name; a user with no vault has nothing to sync.
func TestFolders(t *testing.T) {
	srv := hostile.Start(t)
	_, u := device(t, srv, "cardiology", "radiology")
	dir := t.TempDir()
	f, err := syncservice.FolderOf(bg(), u, "cardiology", dir)
	if err != nil || f.Name != "cardiology" || f.Dir != dir || f.VaultID == "" {
		t.Fatalf("FolderOf: %+v, %v", f, err)
	}
	if _, err := syncservice.FolderOf(bg(), u, "oncology", dir); err == nil {
		t.Error("FolderOf an unknown vault succeeded")
	}
	all, err := syncservice.AllFolders(bg(), u, dir)
	if err != nil || len(all) != 2 {
		t.Fatalf("AllFolders: %+v, %v", all, err)
	}
	for _, f := range all {
		if f.Dir != filepath.Join(dir, f.Name) {
			t.Errorf("vault %s synced into %s", f.Name, f.Dir)
		}
	}
	_, alone := device(t, srv)
	if _, err := syncservice.AllFolders(bg(), alone, dir); !errors.Is(err, syncservice.ErrNoVault) {
		t.Errorf("AllFolders of a user with no vault: %v, want ErrNoVault", err)
	}
}

// TestOnce: with Once, each folder is synced once, its state reported and
// written where Statuses reads it (names sealed, and "stopped": it has
// ended), and no control socket is made.
func TestOnce(t *testing.T) {
	home, u := device(t, hostile.Start(t), "cardiology")
	folders, err := syncservice.AllFolders(bg(), u, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(folders[0].Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(folders[0].Dir, "note.txt"), []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	s := &syncservice.Service{Keys: u, Folders: folders, Options: syncservice.Options{Once: true}, Report: rec}
	if err := s.Serve(bg()); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if len(rec.watching) != 0 || len(rec.cycles) != 1 || rec.cycles[0].State != "idle" || rec.results[0].Uploaded != 1 {
		t.Fatalf("reported %+v %+v %+v, want one idle cycle that uploaded a file", rec.watching, rec.cycles, rec.results)
	}
	if !inVault(t, u, "cardiology", "/note.txt") {
		t.Error("the file is not in the vault")
	}
	key, _ := u.SyncKey()
	sts := syncservice.Statuses(home, key)
	if len(sts) != 1 || sts[0].Vault != "cardiology" || sts[0].Dir != folders[0].Dir || sts[0].State != syncservice.Stopped {
		t.Errorf("Statuses: %+v", sts)
	}
	files, _ := filepath.Glob(filepath.Join(home, "sync", "*.status.json"))
	for _, f := range files {
		if b, _ := os.ReadFile(f); len(b) == 0 || strings.Contains(string(b), "cardiology") || strings.Contains(string(b), folders[0].Dir) {
			t.Errorf("status file %s names the vault or folder in clear:\n%s", f, b)
		}
	}
	if socks, _ := filepath.Glob(filepath.Join(control.Dir(home), "*.sock")); len(socks) != 0 {
		t.Errorf("a one-shot sync made a control socket: %v", socks)
	}
}

// TestServe: a running service uploads what appears in the folder,
// answers lock (it then reports "locked" and leaves the folder alone) and
// unlock on its control socket, and stops, socket removed, when its
// context ends.
func TestServe(t *testing.T) {
	home, u := device(t, hostile.Start(t), "cardiology")
	f, err := syncservice.FolderOf(bg(), u, "cardiology", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	stop := serve(t, f, u, rec, syncservice.Options{})
	if len(rec.watching) != 1 || rec.watching[0] != f {
		t.Errorf("watching %+v, want %+v", rec.watching, f)
	}
	if err := os.WriteFile(filepath.Join(f.Dir, "note.txt"), []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "the upload", func(_ syncer.Status, res syncer.Result) bool { return res.Uploaded == 1 })

	if n, err := control.Lock(home); n != 1 || err != nil {
		t.Fatalf("Lock: %d, %v", n, err)
	}
	rec.waitFor(t, "the lock", func(st syncer.Status, _ syncer.Result) bool { return st.State == "locked" })
	if n, err := control.Unlock(home, hostile.Passphrase); n != 1 || err != nil {
		t.Fatalf("Unlock: %d, %v", n, err)
	}

	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if socks, _ := filepath.Glob(filepath.Join(control.Dir(home), "*.sock")); len(socks) != 0 {
		t.Errorf("control socket left: %v", socks)
	}
	if !inVault(t, u, "cardiology", "/note.txt") {
		t.Error("the file is not in the vault")
	}
}

// TestOneShotWhileSyncing: a one-shot command (here the library calls
// 'coffre put' and 'coffre ls' make) works while a running sync is in the
// middle of a cycle — an upload the server makes last seconds — instead of
// waiting on state.db and failing; and the sync carries both files.
func TestOneShotWhileSyncing(t *testing.T) {
	srv := hostile.Start(t)
	home, u := device(t, srv, "cardiology")
	f, err := syncservice.FolderOf(bg(), u, "cardiology", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	defer serve(t, f, u, rec, syncservice.Options{})()

	// The sync's first block upload takes 3 s: its cycle is under way.
	uploading := make(chan struct{})
	var once sync.Once
	srv.RewriteRequest(func(method string, req any) any {
		if strings.HasSuffix(method, "/PutBlock") {
			once.Do(func() {
				close(uploading)
				time.Sleep(3 * time.Second)
			})
		}
		return req
	})
	if err := os.WriteFile(filepath.Join(f.Dir, "note.txt"), []byte("from the folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case <-uploading:
	case <-time.After(30 * time.Second):
		t.Fatal("the sync did not start uploading")
	}

	start := time.Now()
	one, err := client.Open(bg(), home, hostile.Passphrase)
	if err != nil {
		t.Fatalf("a one-shot command while the sync uploads: %v", err)
	}
	if err := one.Sync(bg()); err != nil {
		t.Fatal(err)
	}
	v, err := one.OpenVault(bg(), "cardiology")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Put(bg(), "/other.txt", strings.NewReader("from a command"), nil); err != nil {
		t.Fatalf("put while the sync uploads: %v", err)
	}
	if _, err := v.List("/", time.Time{}); err != nil {
		t.Fatalf("ls while the sync uploads: %v", err)
	}
	one.Close()
	t.Logf("the one-shot command took %s", time.Since(start))

	rec.waitFor(t, "the upload", func(_ syncer.Status, res syncer.Result) bool { return res.Uploaded == 1 })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(filepath.Join(f.Dir, "other.txt")); err == nil && string(b) == "from a command" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sync did not bring down the file the command put")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !inVault(t, u, "cardiology", "/note.txt") || !inVault(t, u, "cardiology", "/other.txt") {
		t.Error("the vault lacks a file")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, st := range rec.cycles {
		if st.State == "error" {
			t.Errorf("the sync failed meanwhile: %s", st.LastError)
		}
	}
}

// TestIdleMeansNoPerson: the idle lock counts the person, not the folder:
// a coffre command run on the device (control.Touch) keeps it away with no
// change in the folder; without one, the sync locks after LockAfter and
// its status says locked; a running sync's status is not "stopped", and
// once it ended it is, whatever it said last.
func TestIdleMeansNoPerson(t *testing.T) {
	home, u := device(t, hostile.Start(t), "cardiology")
	f, err := syncservice.FolderOf(bg(), u, "cardiology", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	const lockAfter = 1500 * time.Millisecond
	stop := serve(t, f, u, rec, syncservice.Options{LockAfter: lockAfter})
	key, _ := u.SyncKey()
	// A loaded machine can stall this loop for longer than lockAfter;
	// a lock after such a gap is the rule working, so it counts only when
	// the touches before it were closer than lockAfter.
	last := time.Now()
	for end := time.Now().Add(2*lockAfter + time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if n := control.Touch(home); n != 1 {
			t.Fatalf("Touch reached %d syncs, want 1", n)
		}
		gap := time.Since(last)
		last = time.Now()
		if u.Locked() {
			if gap < lockAfter {
				t.Fatal("the sync locked while the person was running coffre commands")
			}
			t.Logf("the machine stalled %v between two commands (lock after %v): unlocking and going on", gap, lockAfter)
			if n, err := control.Unlock(home, hostile.Passphrase); n != 1 || err != nil {
				t.Fatalf("Unlock: %d, %v", n, err)
			}
		}
	}
	// Running: idle, or in a cycle (a periodic scan may be under way).
	if sts := syncservice.Statuses(home, key); len(sts) != 1 || (sts[0].State != "idle" && sts[0].State != "syncing") {
		t.Errorf("status of a running sync: %+v, want idle or syncing", sts)
	}
	rec.waitFor(t, "the idle lock", func(st syncer.Status, _ syncer.Result) bool { return st.State == "locked" })
	if sts := syncservice.Statuses(home, key); len(sts) != 1 || sts[0].State != "locked" {
		t.Errorf("status of a locked sync: %+v", sts)
	}
	if n, err := control.Unlock(home, hostile.Passphrase); n != 1 || err != nil {
		t.Fatalf("Unlock: %d, %v", n, err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if sts := syncservice.Statuses(home, key); len(sts) != 1 || sts[0].State != syncservice.Stopped {
		t.Errorf("status of a sync that ended: %+v, want %q", sts, syncservice.Stopped)
	}
}

// TestWhatMovedAndWhose: a cycle names each file it moved; a conflict copy
// carries the user's name — and this device's label once the user has a
// second device — never the host name (syncer's TestCopyLabel: what a
// name can't put in a file name).
func TestWhatMovedAndWhose(t *testing.T) {
	srv := hostile.Start(t)
	home := filepath.Join(t.TempDir(), "home")
	admin := hostile.Bootstrap(t, srv, home)
	if _, err := admin.CreateVault(bg(), "cardiology"); err != nil {
		t.Fatal(err)
	}
	u, err := client.Unlock(home, hostile.Passphrase)
	if err != nil {
		t.Fatal(err)
	}
	f, err := syncservice.FolderOf(bg(), u, "cardiology", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	once := func() syncer.Result {
		t.Helper()
		rec := &recorder{}
		s := &syncservice.Service{Keys: u, Folders: []syncservice.Folder{f}, Options: syncservice.Options{Once: true}, Report: rec}
		if err := s.Serve(bg()); err != nil {
			t.Fatalf("Serve: %v", err)
		}
		return rec.results[0]
	}
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(f.Dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-time.Minute) // settled
		os.Chtimes(filepath.Join(f.Dir, name), old, old)
	}
	// conflict edits report.txt on both sides and returns the copy's name.
	conflict := func(round string) string {
		t.Helper()
		v, err := admin.OpenVault(bg(), "cardiology")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Put(bg(), "/report.txt", strings.NewReader("theirs "+round), nil); err != nil {
			t.Fatal(err)
		}
		write("report.txt", "mine "+round)
		res := once()
		for _, c := range res.Changes {
			if c.Op == syncer.ConflictCopy && c.Path == "report.txt" {
				if _, err := os.Stat(filepath.Join(f.Dir, filepath.FromSlash(c.Copy))); err != nil {
					t.Errorf("the copy named in the report is not there: %v", err)
				}
				return c.Copy
			}
		}
		t.Fatalf("no conflict reported: %+v", res.Changes)
		return ""
	}

	write("report.txt", "first")
	write("scan.pdf", "scan")
	res := once()
	want := []syncer.Change{{Op: syncer.Uploaded, Path: "report.txt"}, {Op: syncer.Uploaded, Path: "scan.pdf"}}
	if len(res.Changes) != 2 || res.Changes[0] != want[0] || res.Changes[1] != want[1] {
		t.Errorf("changes of the first cycle: %+v, want %+v", res.Changes, want)
	}
	if cp := conflict("1"); !strings.HasPrefix(cp, "report (conflict Admin 2") {
		t.Errorf("conflict copy %q: want it named after the user, Admin", cp)
	}
	// A second device of the same user: its label tells the two apart.
	hostile.Enrol(t, admin, filepath.Join(t.TempDir(), "phone"), "device", "", 0)
	if cp := conflict("2"); !strings.HasPrefix(cp, "report (conflict Admin admin-laptop 2") {
		t.Errorf("conflict copy %q: want the user's name and this device's label", cp)
	}
}

// TestReaderKeepsLocalOnly: a reader's sync does not fail on what it can't
// upload: it names those files, keeps them in the folder and in the status
// as local only, still brings colleagues' files down, and a file the
// reader deleted comes back rather than stay deleted on one side only.
func TestReaderKeepsLocalOnly(t *testing.T) {
	srv := hostile.Start(t)
	admin := hostile.Bootstrap(t, srv, filepath.Join(t.TempDir(), "admin"))
	if _, err := admin.CreateVault(bg(), "cardiology"); err != nil {
		t.Fatal(err)
	}
	bobHome := filepath.Join(t.TempDir(), "bob")
	hostile.Enrol(t, admin, bobHome, "user", "bob@example.org", certificate.ProfileStandard).Close()
	if _, err := admin.ShareVault(bg(), "cardiology", "bob@example.org", certificate.RoleReader, time.Time{}); err != nil {
		t.Fatal(err)
	}
	v, err := admin.OpenVault(bg(), "cardiology")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Put(bg(), "/protocol.txt", strings.NewReader("read me"), nil); err != nil {
		t.Fatal(err)
	}
	bob, err := client.Unlock(bobHome, hostile.Passphrase)
	if err != nil {
		t.Fatal(err)
	}
	f, err := syncservice.FolderOf(bg(), bob, "cardiology", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	once := func() (syncer.Result, error) {
		rec := &recorder{}
		s := &syncservice.Service{Keys: bob, Folders: []syncservice.Folder{f}, Options: syncservice.Options{Once: true}, Report: rec}
		err := s.Serve(bg())
		return rec.results[0], err
	}
	if _, err := once(); err != nil {
		t.Fatalf("first sync: %v", err)
	}
	for _, name := range []string{"notes.txt", "draft.txt"} {
		if err := os.WriteFile(filepath.Join(f.Dir, name), []byte(name), 0o600); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-time.Minute)
		os.Chtimes(filepath.Join(f.Dir, name), old, old)
	}
	if err := os.Remove(filepath.Join(f.Dir, "protocol.txt")); err != nil {
		t.Fatal(err)
	}
	res, err := once()
	if err != nil {
		t.Fatalf("a reader's sync with local files failed: %v", err)
	}
	if want := []string{"draft.txt", "notes.txt"}; !slices.Equal(res.LocalOnly, want) {
		t.Errorf("local only %v, want %v", res.LocalOnly, want)
	}
	if b, err := os.ReadFile(filepath.Join(f.Dir, "protocol.txt")); err != nil || string(b) != "read me" {
		t.Errorf("the file the reader deleted did not come back: %q, %v", b, err)
	}
	for _, name := range []string{"notes.txt", "draft.txt"} {
		if _, err := os.Stat(filepath.Join(f.Dir, name)); err != nil {
			t.Errorf("%s left the folder: %v", name, err)
		}
	}
	key, _ := bob.SyncKey()
	if sts := syncservice.Statuses(bobHome, key); len(sts) != 1 || !slices.Equal(sts[0].LocalOnly, []string{"draft.txt", "notes.txt"}) {
		t.Errorf("status: %+v, want the two files local only", sts)
	}
	files, _ := filepath.Glob(filepath.Join(bobHome, "sync", "*.status.json"))
	for _, p := range files {
		if b, _ := os.ReadFile(p); strings.Contains(string(b), "notes.txt") {
			t.Errorf("status file %s names a local-only file in clear", p)
		}
	}
}
