// Package synctest tests folder sync (`coffre sync`, workspace/syncer)
// end to end: several devices of an organisation keep local folders in sync
// with one vault, in-process (syncer.Engine.Cycle against the hostile
// server, deterministic and fast) or as real `coffre sync` processes
// against a real coffre-server process (for kill -9, server restarts and
// latency).
//
// Organisations are set up in-process with the client library and
// hostile.FastKeys (cheap scrypt), whatever the server: the key files it
// writes are read as well by the real coffre binary, which caps the scrypt
// cost it accepts but not its floor.
package synctest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/link"
	"github.com/coffre/coffre/tests/harness"
	"github.com/coffre/coffre/tests/hostile"
	"github.com/coffre/coffre/tests/testbackend"
	"github.com/coffre/coffre/workspace"
	"github.com/coffre/coffre/workspace/syncer"
)

var seedFlag = flag.Int64("seed", 0, "seed of TestRandomisedConvergence (0: from the clock)")

func TestMain(m *testing.M) {
	hostile.FastKeys()
	flag.Parse()
	os.Exit(harness.Main(m))
}

// coffreBin is the path of the coffre binary, built on first use (the
// in-process tests don't need it).
func coffreBin(t testing.TB) string {
	t.Helper()
	return harness.Coffre(t)
}

func bg() context.Context { return context.Background() }

var (
	cleanEnv  = harness.CleanEnv
	lastLines = harness.LastLines
)

type syncBuffer = harness.SyncBuffer

// ---------------------------------------------------------------------------
// The organisation: an admin (owner of the vault, the test's observer) and
// the syncing devices

// devSpec is a syncing device: a device of a new user (user == name), or a
// second device of an existing user.
type devSpec struct {
	name  string // also the folder's name
	user  string // the user it belongs to (a name among the specs, or itself)
	label string // device label (conflict copies are named after it)
}

// world is an organisation with one vault shared with every syncing device's
// user as a contributor.
type world struct {
	t      *testing.T
	base   string
	admin  *client.Session // the owner, observer of the vault
	org    string
	vault  string
	homes  map[string]string // device name → --home
	labels map[string]string
	hs     *hostile.Server // set for in-process worlds
	ps     *harness.Server // set for process worlds
}

// newHostileWorld sets up the organisation on an in-process hostile server.
func newHostileWorld(t *testing.T, devs ...devSpec) *world {
	t.Helper()
	s := hostile.Start(t)
	w := &world{t: t, hs: s}
	w.setup(s.NewOrganisation(t, "Sync test"), devs)
	return w
}

// newProcWorld sets up the organisation on a real coffre-server process.
func newProcWorld(t *testing.T, devs ...devSpec) *world {
	t.Helper()
	s := harness.New(t).Server(testbackend.New(t))
	w := &world{t: t, ps: s}
	_, l := s.NewOrganisation("Sync test")
	w.setup(l, devs)
	return w
}

func (w *world) setup(l link.Link, devs []devSpec) {
	t := w.t
	t.Helper()
	start := time.Now()
	w.base = t.TempDir()
	w.homes, w.labels = map[string]string{}, map[string]string{}
	adminHome := filepath.Join(w.base, "admin-home")
	admin, err := client.Bootstrap(bg(), adminHome, l, client.BootstrapOptions{
		Name: "Admin", Email: "admin@example.org", DeviceLabel: "admin-laptop", Passphrase: hostile.Passphrase,
	})
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	t.Cleanup(func() { admin.Close() })
	w.admin = admin
	w.org = admin.Identity().OrganisationID
	info, err := admin.CreateVault(bg(), "shared")
	if err != nil {
		t.Fatal(err)
	}
	w.vault = info.ID
	sessions := map[string]*client.Session{}
	for _, d := range devs {
		home := filepath.Join(w.base, d.name+"-home")
		var res hostile.EnrolResult
		if d.user == d.name {
			l, inv := hostile.Invite(t, admin, "user", d.name+"@example.org", certificate.ProfileStandard)
			res = hostile.RunEnrolment(t, admin, l, inv, home, hostile.EnrolOptions{Name: d.name, Label: d.label})
		} else {
			owner := sessions[d.user]
			if owner == nil {
				t.Fatalf("device %s of unknown user %s", d.name, d.user)
			}
			l, inv := hostile.Invite(t, owner, "device", "", 0)
			res = hostile.RunEnrolment(t, owner, l, inv, home, hostile.EnrolOptions{Label: d.label})
		}
		if res.GreetErr != nil || res.ClaimErr != nil {
			t.Fatalf("enrolling %s: greeter: %v; claimer: %v", d.name, res.GreetErr, res.ClaimErr)
		}
		sessions[d.name] = res.Session
		w.homes[d.name], w.labels[d.name] = home, d.label
		if d.user == d.name {
			if _, err := admin.ShareVault(bg(), w.vault, d.name+"@example.org", certificate.RoleContributor, time.Time{}); err != nil {
				t.Fatalf("sharing with %s: %v", d.name, err)
			}
		}
	}
	for name, s := range sessions {
		if err := s.Sync(bg()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s.Close() // the syncs open the device's state when they need it
	}
	t.Logf("organisation set up in %v (%d syncing devices)", time.Since(start).Round(time.Millisecond), len(devs))
}

// openVault opens the vault as the admin (the observer), fetching what the
// server has.
func (w *world) openVault(t testing.TB) *workspace.Vault {
	t.Helper()
	if err := w.admin.Sync(bg()); err != nil {
		t.Fatalf("admin sync: %v", err)
	}
	v, err := w.admin.OpenVault(bg(), w.vault)
	if err != nil {
		t.Fatalf("admin opening the vault: %v", err)
	}
	return v
}

// remoteTree lists the vault as the admin sees it: path → version.
func (w *world) remoteTree(t testing.TB) (map[string]workspace.Version, *workspace.Vault) {
	t.Helper()
	v := w.openVault(t)
	out := map[string]workspace.Version{}
	if err := v.Walk(func(p string, ver workspace.Version) error {
		out[strings.TrimPrefix(p, "/")] = ver
		return nil
	}); err != nil {
		t.Fatalf("walking the vault: %v", err)
	}
	return out, v
}

// contentID is a manifest's content id, as the syncer writes it.
func contentID(ver workspace.Version) string {
	id := workspace.ContentID(ver.Manifest.Blocks)
	return hex.EncodeToString(id[:])
}

// localContentID is the content id a local file has when cut as ver was
// (under ver's vault key, SPEC.md §11.3), to compare with ver's.
func localContentID(t testing.TB, v *workspace.Vault, path string, ver workspace.Version) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	id, _, err := v.LocalContentID(f, ver.KeyIndex)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(id[:])
}

// ---------------------------------------------------------------------------
// In-process syncing devices

// engineDev is a device syncing its folder in-process, as `coffre sync`
// does: a session opened per cycle, the vault fetched and verified, one
// Engine.Cycle.
type engineDev struct {
	name, label string
	home, dir   string
	u           *client.Unlocked
	journal     *syncer.Journal
	eng         *syncer.Engine
	logs        syncBuffer
}

func (w *world) engine(t testing.TB, name string) *engineDev {
	t.Helper()
	d := &engineDev{name: name, label: w.labels[name], home: w.homes[name], dir: filepath.Join(w.base, name)}
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	u, err := client.Unlock(d.home, hostile.Passphrase)
	if err != nil {
		t.Fatal(err)
	}
	d.u = u
	d.journal, err = syncer.OpenJournal(filepath.Join(d.home, "journal.db"), u.SyncKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.journal.Close() })
	vaultID := w.vault
	d.eng = &syncer.Engine{
		Dir: d.dir, Journal: d.journal, Device: u.DeviceLabel(),
		Open: func(ctx context.Context) (*workspace.Vault, func(), error) {
			s, err := u.Session()
			if err != nil {
				return nil, nil, err
			}
			if err := s.Sync(ctx); err != nil {
				s.Close()
				return nil, nil, err
			}
			v, err := s.OpenVault(ctx, vaultID)
			if err != nil {
				s.Close()
				return nil, nil, err
			}
			return v, func() { s.Close() }, nil
		},
		Logf: func(format string, args ...any) {
			fmt.Fprintf(&d.logs, time.Now().Format("15:04:05.000 ")+format+"\n", args...)
		},
	}
	return d
}

// cycle runs one cycle with a timeout.
func (d *engineDev) cycle() (syncer.Result, error) {
	ctx, cancel := context.WithTimeout(bg(), 60*time.Second)
	defer cancel()
	return d.eng.Cycle(ctx)
}

// mustCycle runs one cycle that must succeed.
func (d *engineDev) mustCycle(t testing.TB) syncer.Result {
	t.Helper()
	res, err := d.cycle()
	if err != nil {
		t.Fatalf("%s: cycle: %v", d.name, err)
	}
	return res
}

// ---------------------------------------------------------------------------
// `coffre sync` processes

// procDev is a device whose folder a `coffre sync` process syncs.
type procDev struct {
	w         *world
	name      string
	home, dir string
	bin       string // the coffre binary
}

func (w *world) procDev(t testing.TB, name string) *procDev {
	t.Helper()
	d := &procDev{w: w, name: name, home: w.homes[name], dir: filepath.Join(w.base, name), bin: coffreBin(t)}
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// status reads the file where `coffre sync` reports (cmd_sync.go
// syncFiles; its name is keyed, so this device has only one).
func (d *procDev) status() (syncer.Status, error) {
	files, _ := filepath.Glob(filepath.Join(d.home, "sync", d.w.vault+"-*.status.json"))
	if len(files) != 1 {
		return syncer.Status{}, fmt.Errorf("%d status files", len(files))
	}
	return syncer.ReadStatus(files[0])
}

// syncProc is a running `coffre sync`.
type syncProc struct {
	d     *procDev
	cmd   *exec.Cmd
	out   syncBuffer
	done  chan struct{}
	err   error
	start time.Time
}

func (d *procDev) command(args ...string) *exec.Cmd {
	full := append([]string{"--home", d.home, "sync", d.w.vault, d.dir}, args...)
	cmd := exec.Command(d.bin, full...)
	cmd.Env = append(cleanEnv(), "COFFRE_PASSPHRASE="+string(hostile.Passphrase))
	cmd.SysProcAttr = harness.NoTerminal()
	return cmd
}

// start starts `coffre sync VAULT DIR args...`; the process is killed when
// the test ends if it still runs.
func (d *procDev) start(t testing.TB, args ...string) *syncProc {
	t.Helper()
	p := &syncProc{d: d, cmd: d.command(args...), done: make(chan struct{}), start: time.Now()}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if p.running() {
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s: coffre sync output:\n%s", d.name, lastLines(p.out.String(), 30))
		}
	})
	return p
}

func (p *syncProc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill9 kills the process with SIGKILL and waits for it.
func (p *syncProc) kill9() {
	p.cmd.Process.Kill()
	<-p.done
}

// stop interrupts the process (Ctrl-C) and waits for it.
func (p *syncProc) stop(t testing.TB) {
	t.Helper()
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.kill9()
		t.Errorf("%s: coffre sync did not stop on SIGINT", p.d.name)
	}
}

// once runs `coffre sync --once` to its end.
func (d *procDev) once(t testing.TB) (string, error) {
	t.Helper()
	cmd := d.command("--once", "--settle", "0s")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Logf("%s: coffre sync --once: %v in %v: %s", d.name, err, time.Since(start).Round(time.Millisecond), strings.TrimSpace(out.String()))
		return out.String(), err
	case <-time.After(120 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s: coffre sync --once did not end within 120s:\n%s", d.name, out.String())
		return "", nil
	}
}

// mustOnce runs `coffre sync --once` until it succeeds (a first run may
// legitimately report an error, e.g. a conflict merged by the next cycle).
func (d *procDev) mustOnce(t testing.TB) {
	t.Helper()
	var lastErr error
	var out string
	for range 3 {
		if out, lastErr = d.once(t); lastErr == nil {
			return
		}
	}
	t.Fatalf("%s: coffre sync --once keeps failing: %v\n%s", d.name, lastErr, out)
}

// ---------------------------------------------------------------------------
// Local trees

// entry is a path of a local tree.
type entry struct {
	folder bool
	size   int64
	hash   string // SHA-256 of a file's content
}

func (e entry) String() string {
	if e.folder {
		return "folder"
	}
	return fmt.Sprintf("%d bytes %s", e.size, e.hash[:12])
}

func hashBytes(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// readTree reads every file and folder under dir, by slash path.
func readTree(t testing.TB, dir string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			out[rel] = entry{folder: true}
			return nil
		}
		h, n, err := hashFile(p)
		if err != nil {
			return err
		}
		out[rel] = entry{size: n, hash: h}
		return nil
	})
	if err != nil {
		t.Fatalf("reading %s: %v", dir, err)
	}
	return out
}

// diffTrees describes how two trees differ ("" if they don't).
func diffTrees(a, b map[string]entry, an, bn string) string {
	var lines []string
	for p, e := range a {
		if f, ok := b[p]; !ok {
			lines = append(lines, fmt.Sprintf("  %s only in %s (%v)", p, an, e))
		} else if e != f {
			lines = append(lines, fmt.Sprintf("  %s differs: %s has %v, %s has %v", p, an, e, bn, f))
		}
	}
	for p, e := range b {
		if _, ok := a[p]; !ok {
			lines = append(lines, fmt.Sprintf("  %s only in %s (%v)", p, bn, e))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// temporaries lists what looks like a leftover of an interrupted download
// (".NAME.coffre-download", ".NAME.coffre-XXXX").
func temporaries(tree map[string]entry) []string {
	var out []string
	for p := range tree {
		name := p[strings.LastIndex(p, "/")+1:]
		if strings.Contains(name, ".coffre-") || strings.HasSuffix(name, ".coffre-download") {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// conflictName matches a conflict copy: "stem (conflict DEVICE YYYY-MM-DD
// HHMMSS[ N])[.ext]".
var conflictName = regexp.MustCompile(`^(.*) \(conflict (.+) (\d{4}-\d{2}-\d{2} \d{6})( \d+)?\)(\.[^./ ]*)?$`)

// waitFor polls cond every interval until it is true or timeout passes.
func waitFor(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
}

// writeRandomFile writes n pseudo-random bytes (from seed) to path, in
// 1 MiB writes, and returns their SHA-256.
func writeRandomFile(t testing.TB, path string, n int64, seed uint64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	r := newXorshift(seed)
	buf := make([]byte, 1<<20)
	for left := n; left > 0; {
		k := min(left, int64(len(buf)))
		r.fill(buf[:k])
		h.Write(buf[:k])
		if _, err := f.Write(buf[:k]); err != nil {
			t.Fatal(err)
		}
		left -= k
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// xorshift is a fast deterministic byte source (math/rand is slow for
// hundreds of MiB).
type xorshift struct{ s uint64 }

func newXorshift(seed uint64) *xorshift { return &xorshift{s: seed*0x9E3779B97F4A7C15 + 1} }

func (x *xorshift) next() uint64 {
	x.s ^= x.s << 13
	x.s ^= x.s >> 7
	x.s ^= x.s << 17
	return x.s
}

func (x *xorshift) fill(b []byte) {
	for i := 0; i < len(b); i += 8 {
		v := x.next()
		for j := 0; j < 8 && i+j < len(b); j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
}

// timeZero asks the vault for the newest versions.
var timeZero time.Time

type hostileCall = hostile.Call
