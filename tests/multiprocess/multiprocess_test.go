package multiprocess

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server/store/s3blocks/s3test"
	"github.com/coffre/coffre/tests/harness"
	"github.com/coffre/coffre/tests/hostile"
	"github.com/coffre/coffre/workspace"
)

// ---------------------------------------------------------------------------
// (a) Watch events cross from one process to the other

// watcher is a device's Watch stream, through the server its link names.
type watcher struct {
	name   string
	events chan watched
}

type watched struct {
	ev client.Event
	at time.Time
}

// watch opens a device's Watch stream, and returns once the server has
// subscribed it (its first event, the organisation's head, came).
func watch(t *testing.T, d device) *watcher {
	t.Helper()
	u, err := client.Unlock(d.home, hostile.Passphrase)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg())
	w := &watcher{name: d.name, events: make(chan watched, 1024)}
	ended := make(chan error, 1)
	go func() {
		ended <- u.Watch(ctx, func(ev client.Event) { w.events <- watched{ev, time.Now()} })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-ended; err != nil {
			t.Errorf("watch of %s: %v", d.name, err)
		}
	})
	w.next(t, "the stream's first event", func(ev client.Event) bool { return ev.VaultID == "" })
	return w
}

// next waits for an event that want accepts, skipping others, and returns
// when it came.
func (w *watcher) next(t *testing.T, what string, want func(client.Event) bool) time.Time {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-w.events:
			if want(e.ev) {
				return e.at
			}
		case <-timeout:
			t.Fatalf("watch of %s: no event for %s within 10s", w.name, what)
		}
	}
}

// put writes content at p in the vault through d's server.
func put(t *testing.T, d device, vaultID, p string, content []byte) {
	t.Helper()
	s := d.open(t)
	defer s.Close()
	v, err := s.OpenVault(bg(), vaultID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Put(bg(), p, bytes.NewReader(content), nil); err != nil {
		t.Fatalf("%s: put %s: %v", d.name, p, err)
	}
}

func TestEventsAcrossProcesses(t *testing.T) {
	w := newWorld(t)
	onB := w.enrolDevice(t, w.admin, "laptop-b", w.b.Addr)
	if got := w.admin.server(t); got != w.a.Addr {
		t.Fatalf("the admin's device talks to %s, want A at %s", got, w.a.Addr)
	}
	if got := onB.server(t); got != w.b.Addr {
		t.Fatalf("laptop-b talks to %s, want B at %s", got, w.b.Addr)
	}
	watchA := watch(t, w.admin)
	watchB := watch(t, onB)
	var listeners int
	err := w.db.QueryRow(bg(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'coffre-server listener'`).Scan(&listeners)
	if err != nil || listeners != 2 {
		t.Fatalf("%d listening connections (%v), want one per process", listeners, err)
	}
	inVault := func(ev client.Event) bool { return ev.VaultID == w.vaultID }

	// A write through B: the watcher on A hears of it.
	begin := time.Now()
	put(t, onB, w.vaultID, "/from-b.txt", []byte("written through B\n"))
	wrote := time.Now()
	got := watchA.next(t, "a file written through B", inVault)
	t.Logf("A's watcher heard of the write through B %v after the put began (the put took %v)",
		got.Sub(begin).Round(time.Microsecond), wrote.Sub(begin).Round(time.Millisecond))
	watchB.next(t, "its own process's write", inVault)

	// An organisation log entry through B: a vault created.
	s := onB.open(t)
	begin = time.Now()
	if _, err := s.CreateVault(bg(), "second"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	got = watchA.next(t, "a vault created through B", func(ev client.Event) bool { return ev.VaultID == "" })
	t.Logf("A's watcher heard of the organisation log entry through B %v after it began", got.Sub(begin).Round(time.Microsecond))

	// And the other way round.
	begin = time.Now()
	put(t, w.admin, w.vaultID, "/from-a.txt", []byte("written through A\n"))
	got = watchB.next(t, "a file written through A", inVault)
	t.Logf("B's watcher heard of the write through A %v after the put began", got.Sub(begin).Round(time.Microsecond))
}

// ---------------------------------------------------------------------------
// (b) Enrolments with the greeter on one process, the claimer on the other

func TestEnrolmentAcrossProcesses(t *testing.T) {
	t.Parallel()
	w := newWorld(t)

	// A new user: the admin greets through A, the newcomer claims with a
	// link that names B.
	id, invitation := harness.ParseInvitation(t, w.admin.coffre(t, "user", "invite", "bob@example.org", "--profile", "standard"))
	invitation = withAddress(t, invitation, w.b.Addr)
	bob := device{name: "bob", home: filepath.Join(t.TempDir(), "bob")}
	g, c := enrolProcesses(t, w.admin, []string{"user", "greet", "--yes", id},
		bob, invitation, []string{"--name", "Bob", "--device-label", "bob-laptop"})
	if !strings.Contains(g.Stdout, "enrolled Bob <bob@example.org> as user ") || !strings.Contains(c.Stdout, "enrolled in \"Multiprocess\"") {
		t.Fatalf("the enrolment did not say so:\n%s\n%s", g, c)
	}
	if got := bob.server(t); got != w.b.Addr {
		t.Fatalf("bob's device talks to %s, want B at %s", got, w.b.Addr)
	}

	// A new device the other way round: Bob greets through B, his new
	// device claims through A.
	id, invitation = harness.ParseInvitation(t, bob.coffre(t, "device", "invite"))
	invitation = withAddress(t, invitation, w.a.Addr)
	phone := device{name: "bob-phone", home: filepath.Join(t.TempDir(), "bob-phone")}
	g, c = enrolProcesses(t, bob, []string{"device", "greet", "--yes", id}, phone, invitation, []string{"--device-label", "bob-phone"})
	if !strings.Contains(g.Stdout, "enrolled device ") || !strings.Contains(c.Stdout, "(bob-phone)") {
		t.Fatalf("the enrolment did not say so:\n%s\n%s", g, c)
	}

	// Both processes tell the same: through A (the admin and Bob's phone)
	// and through B (Bob's laptop).
	for _, d := range []device{w.admin, bob, phone} {
		out := d.coffre(t, "user", "list", "--json")
		if !strings.Contains(out, "bob@example.org") || !strings.Contains(out, "bob-phone") {
			t.Fatalf("%s (through %s) does not list Bob and his phone:\n%s", d.name, d.server(t), out)
		}
	}
	var boxes int
	if err := w.db.QueryRow(bg(), `SELECT count(*) FROM relay_boxes`).Scan(&boxes); err != nil {
		t.Fatal(err)
	}
	if boxes != 2 {
		t.Fatalf("%d relay boxes in the database, want 2 (one per enrolment)", boxes)
	}
}

// ---------------------------------------------------------------------------
// (c) Concurrent writes to one vault through both processes

// outcome is what one put did.
type outcome struct {
	writer, path string
	content      []byte
	err          error // of the last attempt
	races        int   // attempts that failed on readRace, retried
}

// readRace reports whether err is a client refusing an answer to a log
// read that claims entries it does not hold ("the server claims … entries
// up to N but sends none"). The server's VaultRead and GetLog read the
// entries, then the head, in two store calls: an append committed in
// between, by another request of the same process or of another one,
// makes the answer claim an entry it does not carry. The store is fine; a
// put that fails so may or may not have appended its entry (the read may
// be the one after the append). Until the server reads the head first and
// the entries up to it, the tests retry such a put and allow for it, and
// say so.
func readRace(err error) bool {
	return err != nil && strings.Contains(err.Error(), "entries up to ") && strings.Contains(err.Error(), " but sends none")
}

// cleanConflict reports whether err is a conflict the client reports as
// such, nothing written: someone else wrote the file first, or the log
// kept moving.
func cleanConflict(err error) bool {
	return errors.Is(err, workspace.ErrWriteConflict) || errors.Is(err, certificate.ErrConflict)
}

// file is one file of a vault as a device reads it.
type file struct {
	version uint64
	content []byte
	history []uint64 // sizes of every version, oldest first
}

// readVault reads every file of the vault through d's server: its newest
// version, downloaded, and the sizes of all its versions.
func readVault(t *testing.T, d device, vaultID string) map[string]file {
	t.Helper()
	s := d.open(t)
	defer s.Close()
	v, err := s.OpenVault(bg(), vaultID)
	if err != nil {
		t.Fatalf("%s: %v", d.name, err)
	}
	dir := t.TempDir()
	out := map[string]file{}
	err = v.Walk(func(p string, ver workspace.Version) error {
		if ver.Manifest.Folder {
			return nil
		}
		dest := filepath.Join(dir, "got")
		if _, err := v.GetReplace(bg(), p, time.Time{}, dest, nil); err != nil {
			return fmt.Errorf("get %s: %w", p, err)
		}
		content, err := os.ReadFile(dest)
		if err != nil {
			return err
		}
		hist, err := v.History(p)
		if err != nil {
			return err
		}
		f := file{version: ver.Version, content: content}
		for _, h := range hist {
			f.history = append(f.history, h.Manifest.Size)
		}
		out[p] = f
		return nil
	})
	if err != nil {
		t.Fatalf("%s reading the vault: %v", d.name, err)
	}
	return out
}

// sameVault fails the test unless a and b, read by two devices, are the
// same.
func sameVault(t *testing.T, an, bn string, a, b map[string]file) {
	t.Helper()
	for p, fa := range a {
		fb, ok := b[p]
		switch {
		case !ok:
			t.Errorf("%s lists %s, %s does not", an, p, bn)
		case fa.version != fb.version || !bytes.Equal(fa.content, fb.content) || !slices.Equal(fa.history, fb.history):
			t.Errorf("%s: %s reads version %d (%d bytes), %s version %d (%d bytes)", p, an, fa.version, len(fa.content), bn, fb.version, len(fb.content))
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			t.Errorf("%s lists %s, %s does not", bn, p, an)
		}
	}
}

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16)})
	r.Read(b)
	return b
}

func TestConcurrentWrites(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	b1 := w.enrolDevice(t, w.admin, "b1", w.b.Addr)
	a2 := w.enrolDevice(t, w.admin, "a2", w.a.Addr)
	b2 := w.enrolDevice(t, w.admin, "b2", w.b.Addr)
	writers := []device{w.admin, b1, a2, b2}
	before := w.vaultLog(t)

	// Each writer puts files of its own and, in between, the one shared
	// file. Every content is unique, and so is its size, so that the
	// history of the shared file says whose puts it kept.
	const rounds = 5
	var mu sync.Mutex
	var outcomes []outcome
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, d := range writers {
		wg.Go(func() {
			s, err := openDevice(d)
			if err != nil {
				t.Error(err)
				return
			}
			defer s.Close()
			v, err := s.OpenVault(bg(), w.vaultID)
			for tries := 0; readRace(err) && tries < 10; tries++ {
				v, err = s.OpenVault(bg(), w.vaultID) // see readRace
			}
			if err != nil {
				t.Errorf("%s: %v", d.name, err)
				return
			}
			<-start
			for k := range rounds {
				for j, p := range []string{fmt.Sprintf("/%s-%d", d.name, k), "/shared"} {
					seed := uint64(i*1000 + k*10 + j)
					o := outcome{writer: d.name, path: p, content: randomBytes(seed, 10_000+int(seed))}
					for {
						_, o.err = v.Put(bg(), p, bytes.NewReader(o.content), nil)
						if !readRace(o.err) || o.races == 10 {
							break
						}
						o.races++
					}
					mu.Lock()
					outcomes = append(outcomes, o)
					mu.Unlock()
				}
			}
		})
	}
	begin := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(begin)

	succeeded, races := 0, 0
	var sharedSizes, raceSizes []uint64 // of the shared puts that succeeded, that hit readRace
	for _, o := range outcomes {
		races += o.races
		if o.path == "/shared" {
			for range o.races {
				raceSizes = append(raceSizes, uint64(len(o.content)))
			}
		}
		switch {
		case o.err == nil:
			succeeded++
			if o.path == "/shared" {
				sharedSizes = append(sharedSizes, uint64(len(o.content)))
			}
		case !cleanConflict(o.err):
			t.Errorf("%s: put %s: %v, want success or a clean conflict", o.writer, o.path, o.err)
		}
	}
	ownConflicts := 0
	for _, o := range outcomes {
		if o.err != nil && o.path != "/shared" {
			ownConflicts++
		}
	}
	t.Logf("%d puts by %d writers through A and B in %v: %d succeeded, %d clean conflicts (%d on files of their own: the log kept moving)",
		len(outcomes), len(writers), elapsed.Round(time.Millisecond), succeeded, len(outcomes)-succeeded, ownConflicts)
	if races > 0 {
		// The server reads a log's head before its entries: an answer that
		// claims entries it doesn't carry is a regression.
		t.Errorf("%d attempts failed on a read race (see readRace): GetLog/VaultRead must read the head first", races)
	}

	// The log is whole, with one entry per put that succeeded (and maybe
	// one per attempt that failed on the read race).
	if n := w.vaultLog(t); n < before+succeeded || n > before+succeeded+races {
		t.Fatalf("the vault log has %d entries, want %d before the writers and %d puts that succeeded (+ up to %d read races)", n, before, succeeded, races)
	}

	// Both processes serve the same vault, and it is what the puts that
	// succeeded wrote.
	throughA := readVault(t, w.admin, w.vaultID)
	throughB := readVault(t, b1, w.vaultID)
	sameVault(t, "A", "B", throughA, throughB)
	if objects := w.bucketObjects(t); objects == 0 {
		t.Fatalf("no block in the servers' bucket, want them all there")
	}
	for _, o := range outcomes {
		if o.err != nil || o.path == "/shared" {
			continue
		}
		if f, ok := throughA[o.path]; !ok || f.version < 1 || f.version > uint64(1+o.races) || !bytes.Equal(f.content, o.content) {
			t.Errorf("%s: %s put it; through A: version %d, %d bytes, listed %v", o.path, o.writer, f.version, len(f.content), ok)
		}
	}
	// Each version of the shared file is a put that succeeded (or an
	// attempt that failed on the read race), and each put that succeeded
	// is a version.
	shared := throughA["/shared"]
	left := slices.Clone(shared.history)
	for _, size := range sharedSizes {
		i := slices.Index(left, size)
		if i < 0 {
			t.Fatalf("/shared has versions of sizes %v: no version of a put that succeeded (%d bytes); succeeded: %v", shared.history, size, sharedSizes)
		}
		left = slices.Delete(left, i, i+1)
	}
	for _, size := range left {
		i := slices.Index(raceSizes, size)
		if i < 0 {
			t.Fatalf("/shared has versions of sizes %v, want those of the puts that succeeded %v (and read races %v)", shared.history, sharedSizes, raceSizes)
		}
		raceSizes = slices.Delete(raceSizes, i, i+1)
	}
	if want := shared.history[len(shared.history)-1]; uint64(len(shared.content)) != want {
		t.Errorf("/shared reads %d bytes, its newest version is %d", len(shared.content), want)
	}
}

// ---------------------------------------------------------------------------
// (d) A process killed mid-write

func TestKillMidWrite(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// The writers reach the servers through the front, which gives every
	// connection to A while it is up; one more device talks to B.
	var writers []device
	for i := range 3 {
		writers = append(writers, w.enrolDevice(t, w.admin, fmt.Sprintf("front%d", i), w.front.addr))
	}
	onB := w.enrolDevice(t, w.admin, "b1", w.b.Addr)
	writers = append(writers, onB)
	before := w.vaultLog(t)

	const files = 6
	type ackedPut struct {
		writer, path string
		content      []byte
		failures     int // attempts that failed before it succeeded
		races        int // of which on readRace
		began, ended time.Time
	}
	var mu sync.Mutex
	var acked []ackedPut
	var failures []string
	killed := make(chan struct{})
	ackedCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	var wg sync.WaitGroup
	for i, d := range writers {
		wg.Go(func() {
			var s *client.Session
			var v *workspace.Vault
			closeSession := func() {
				if s != nil {
					s.Close()
					s, v = nil, nil
				}
			}
			defer closeSession()
			for k := range files {
				p := fmt.Sprintf("/%s-%d", d.name, k)
				content := randomBytes(uint64(i*100+k), 300_000+i*1000+k)
				first := time.Now()
				failed, races := 0, 0
				for {
					if time.Since(first) > time.Minute {
						t.Errorf("%s: put %s still failing after a minute", d.name, p)
						return
					}
					var err error
					if s == nil {
						if s, err = openDevice(d); err == nil {
							v, err = s.OpenVault(bg(), w.vaultID)
						}
					}
					if err == nil {
						_, err = v.Put(bg(), p, bytes.NewReader(content), nil)
					}
					if err == nil {
						break
					}
					// The operation failed (its server died under it):
					// retry it on a new connection, which the front gives
					// to the other process.
					failed++
					if readRace(err) {
						races++
					}
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s: put %s: %v", d.name, p, err))
					mu.Unlock()
					closeSession()
					time.Sleep(100 * time.Millisecond)
				}
				mu.Lock()
				acked = append(acked, ackedPut{d.name, p, content, failed, races, first, time.Now()})
				mu.Unlock()
				if k == 1 {
					<-killed // the rest after the kill
				}
			}
		})
	}
	// Kill A while the writers are at it: once each did two puts, the
	// third is on its way.
	deadline := time.Now().Add(2 * time.Minute)
	for ackedCount() < 2*len(writers) {
		if time.Now().After(deadline) {
			t.Fatal("the writers did not put two files each within 2 minutes")
		}
		time.Sleep(time.Millisecond)
	}
	// Then kill it in the middle of a put: once the writers, going on,
	// sent A more than half a block.
	sent := w.front.bytesTo(w.a.Addr)
	close(killed)
	for w.front.bytesTo(w.a.Addr) < sent+150_000 {
		if time.Now().After(deadline) {
			t.Fatal("the writers sent nothing more to A within 2 minutes")
		}
		time.Sleep(100 * time.Microsecond)
	}
	beforeKill := w.front.connections()
	killedAt := time.Now()
	w.a.Kill()
	wg.Wait()

	if beforeKill[w.a.Addr] == 0 {
		t.Fatalf("the front gave A no connection before it was killed: %v", beforeKill)
	}
	after := w.front.connections()
	t.Logf("connections through the front: %d to A before the kill, %d to B after", beforeKill[w.a.Addr], after[w.b.Addr]-beforeKill[w.b.Addr])
	t.Logf("%d failed attempts, each retried:\n%s", len(failures), strings.Join(failures, "\n"))
	for _, p := range acked {
		if p.failures > 0 {
			t.Logf("%s: put %s succeeded after %d failed attempts, %v after the first", p.writer, p.path, p.failures, p.ended.Sub(p.began).Round(time.Millisecond))
		}
		if p.writer == onB.name && p.failures > p.races {
			t.Errorf("%s talks to B, which stayed up: put %s failed %d times", p.writer, p.path, p.failures)
		}
	}
	if len(acked) != files*len(writers) {
		t.Fatalf("%d puts succeeded, want %d", len(acked), files*len(writers))
	}
	// The puts under way when A died went on through B: the client
	// library calls again, on a new connection (which the front gives to
	// B), what it may call twice (block uploads, reads); an append cut off
	// fails the put, which the writer retries.
	var cut []string
	for _, p := range acked {
		if p.began.Before(killedAt) && p.ended.After(killedAt) {
			cut = append(cut, fmt.Sprintf("%s %s (%v after the kill, %d failed attempts)", p.writer, p.path, p.ended.Sub(killedAt).Round(time.Millisecond), p.failures-p.races))
		}
	}
	if len(cut) == 0 {
		t.Fatal("no put was under way when A was killed")
	}
	t.Logf("%d puts under way when A was killed, done through B: %s", len(cut), strings.Join(cut, "; "))

	// Nothing acknowledged is lost, and the log is whole: B serves every
	// file, and so does A once it is back.
	n := w.vaultLog(t)
	if n < before+len(acked) {
		t.Fatalf("the vault log has %d entries, want at least %d before the writers and %d puts acknowledged", n, before, len(acked))
	}
	t.Logf("vault log: %d entries for %d puts acknowledged (a put whose answer A's death cut off and that was retried leaves two)", n-before, len(acked))
	throughB := readVault(t, onB, w.vaultID)
	throughFront := readVault(t, writers[0], w.vaultID)
	sameVault(t, "B", "the front", throughB, throughFront)
	for _, p := range acked {
		if f, ok := throughB[p.path]; !ok || !bytes.Equal(f.content, p.content) {
			t.Errorf("%s: %s's put was acknowledged; through B: listed %v, %d bytes", p.path, p.writer, ok, len(f.content))
		}
	}
	w.a.Start()
	sameVault(t, "B", "A restarted", throughB, readVault(t, w.admin, w.vaultID))
}

// ---------------------------------------------------------------------------
// Where the processes keep blocks

// TestBlocksWhereSaid: with each --blocks, a file put through A is read
// through B, and its blocks are where the flag said and nowhere else.
func TestBlocksWhereSaid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"bucket", nil}, // newWorld's default: one S3 bucket
		{"directory", []string{"--blocks", "dir"}},
		{"postgres", []string{"--blocks", "postgres"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.extra...)
			onB := w.enrolDevice(t, w.admin, "laptop-b", w.b.Addr)
			content := randomBytes(7, 700_000)
			put(t, w.admin, w.vaultID, "/big.bin", content)
			if got := readVault(t, onB, w.vaultID)["/big.bin"]; !bytes.Equal(got.content, content) {
				t.Fatalf("through B: %d bytes, want the %d put through A", len(got.content), len(content))
			}
			var rows int
			if err := w.db.QueryRow(bg(), `SELECT count(*) FROM blocks`).Scan(&rows); err != nil {
				t.Fatal(err)
			}
			files := 0
			for _, s := range []*harness.Server{w.a, w.b} {
				filepath.WalkDir(filepath.Join(s.Data, "blocks"), func(_ string, d os.DirEntry, err error) error {
					if err == nil && d.Type().IsRegular() {
						files++
					}
					return nil
				})
			}
			objects := w.bucketObjects(t)
			t.Logf("%d blocks in PostgreSQL, %d block files in the data directories, %d objects in the bucket", rows, files, objects)
			if here := map[string]int{"bucket": objects, "directory": files, "postgres": rows}[tc.name]; here == 0 || rows+files+objects != here {
				t.Fatalf("want every block in the %s and none elsewhere", tc.name)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Replays across processes

// TestReplayToOtherProcess: a signed request accepted by A, sent again
// byte for byte to B within the time window, is refused by B (the replay
// cache is in the database, shared); the same device with a new nonce is
// served by B.
func TestReplayToOtherProcess(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	d := hostile.ReadDevice(t, w.admin.home)
	at, nonce := time.Now(), crypto.RandomBytes(16)
	replayed := &hostile.Signer{OrganisationID: d.OrganisationID, DeviceID: d.DeviceID, Key: d.SigningKey,
		Time: func() time.Time { return at }, Nonce: func() []byte { return nonce }}
	req := &coffrev1.ListInvitationsRequest{}
	if _, err := hostile.DialAddress(t, w.a.Addr, d.Link.Pin, replayed).ListInvitations(bg(), req); err != nil {
		t.Fatalf("the request to A: %v", err)
	}
	_, err := hostile.DialAddress(t, w.b.Addr, d.Link.Pin, replayed).ListInvitations(bg(), req)
	if code := status.Code(err); code != codes.Unauthenticated {
		t.Fatalf("the same request replayed to B: %v (code %s), want it refused as %s", err, code, codes.Unauthenticated)
	}
	if _, err := hostile.DialAddress(t, w.b.Addr, d.Link.Pin, d.Signer()).ListInvitations(bg(), req); err != nil {
		t.Fatalf("a new request of the same device to B: %v", err)
	}
}

// ---------------------------------------------------------------------------
// Health

// TestHealthzFollowsTheStores: /healthz answers 200 while PostgreSQL and the
// bucket answer, and 503 naming the block store once the object store is
// gone, so that a load balancer takes the process out.
func TestHealthzFollowsTheStores(t *testing.T) {
	minio.Require(t)
	t.Parallel()
	own, err := s3test.Start("coffre-mp-health-")
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			own.Stop()
		}
	})
	metrics := harness.FreePort(t)
	startServer(t, "A", cluster.NewDatabase(t), "127.0.0.1:7443", nil, "--blocks", own.Bucket(t), "--metrics", metrics)
	health := func() (int, string) {
		t.Helper()
		// At once: the server listens for metrics before it says it
		// listens for clients.
		r, err := http.Get("http://" + metrics + "/healthz")
		if err != nil {
			t.Fatalf("/healthz: %v", err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, strings.TrimSpace(string(b))
	}
	if code, body := health(); code != http.StatusOK {
		t.Fatalf("/healthz with every store up: %d %q, want 200", code, body)
	}
	own.Stop()
	stopped = true
	if code, body := health(); code != http.StatusServiceUnavailable || body != "block store unavailable" {
		t.Fatalf("/healthz with the object store gone: %d %q, want 503 %q", code, body, "block store unavailable")
	}
}
