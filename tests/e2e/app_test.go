package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coffre/coffre/client/app"
)

// startApp runs 'coffre app' on the device (unlocked with its passphrase)
// and waits until its socket answers; it is stopped with SIGTERM when the
// test ends, and must exit 0.
func startApp(t *testing.T, d *Device, args ...string) *Process {
	t.Helper()
	p := d.Start(5*time.Minute, nil, append([]string{"app", "--lock-after", "0"}, args...)...)
	t.Cleanup(func() {
		if p.State == nil { // the test did not stop it
			syscall.Kill(p.Pid(), syscall.SIGTERM)
			p.Wait()
		}
	})
	deadline := time.Now().Add(commandTimeout)
	for {
		if c, st := app.Dial(context.Background(), d.Home); c != nil && !st.Locked {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("coffre app did not answer unlocked on its socket within %s:\n%s", commandTimeout, p.Stderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// median of the elapsed times of n runs of a command.
func medianRun(t *testing.T, d *Device, n int, args ...string) (time.Duration, Result) {
	t.Helper()
	var times []time.Duration
	var last Result
	for range n {
		last = d.Run(args...)
		if !last.OK() {
			t.Fatalf("%s", last)
		}
		times = append(times, last.Elapsed)
	}
	slices.Sort(times)
	return times[n/2], last
}

// TestAppMakesLsFast logs the time of 'coffre ls' on a small vault alone
// and through the app, with the key file a person has (full scrypt cost).
// No timed assertion: the figures go to the note.
func TestAppMakesLsFast(t *testing.T) {
	srv := StartServer(t)
	_, link := srv.CreateOrg("Clinique des Pins")
	alice := NewDevice(t, "alice")
	alice.FullCost = true
	alice.Bootstrap(link, "Alice", "alice@pins.example")
	alice.MustRun("vault", "create", "cardiology")
	dir := t.TempDir()
	writeTree(t, dir, map[string][]byte{"report.pdf": []byte("%PDF report"), "scans/a.png": randomBytes(3000), "scans/b.png": randomBytes(3000)})
	alice.MustRun("put", filepath.Join(dir, "report.pdf"), "cardiology:/")
	alice.MustRun("put", filepath.Join(dir, "scans"), "cardiology:/scans")
	alone, lsAlone := medianRun(t, alice, 3, "ls", "cardiology:/")
	startApp(t, alice)
	through, lsThrough := medianRun(t, alice, 5, "ls", "cardiology:/")
	t.Logf("coffre ls on a small vault (full scrypt cost): median %v alone, %v through the app (%.0f× faster)",
		alone.Round(time.Millisecond), through.Round(time.Millisecond), float64(alone)/float64(through))
	if lsThrough.Stdout != lsAlone.Stdout {
		t.Fatalf("ls through the app printed\n%s\nalone:\n%s", lsThrough.Stdout, lsAlone.Stdout)
	}
}

// TestAppAnswersTheCommandLine: with 'coffre app' running unlocked, ls,
// put, get, vault list and status are answered by it (no passphrase: a
// wrong one in the environment goes unread), print what they print alone
// and exit with the same statuses; coffre lock and unlock reach it; with
// it locked or stopped, the commands work alone. The figures of 'coffre
// ls' with and without the app are logged (full scrypt cost, as a person's
// key file has).
func TestAppAnswersTheCommandLine(t *testing.T) {
	srv := StartServer(t)
	_, link := srv.CreateOrg("Clinique des Pins")
	alice := NewDevice(t, "alice")
	alice.Bootstrap(link, "Alice", "alice@pins.example")
	alice.MustRun("vault", "create", "cardiology")
	dir := t.TempDir()
	writeTree(t, dir, map[string][]byte{"report.pdf": []byte("%PDF report"), "scans/a.png": randomBytes(3000)})
	alice.MustRun("put", filepath.Join(dir, "report.pdf"), "cardiology:/")
	alice.MustRun("put", filepath.Join(dir, "scans"), "cardiology:/scans")

	alone, lsAlone := medianRun(t, alice, 3, "ls", "cardiology:/")
	vaultsAlone := alice.MustRun("vault", "list", "--json")
	missingAlone := alice.Run("ls", "nosuch:/")

	p := startApp(t, alice)
	// A wrong passphrase in the environment: only the app can answer.
	viaApp := *alice
	viaApp.Passphrase = "not the passphrase"
	through, lsThrough := medianRun(t, &viaApp, 5, "ls", "cardiology:/")
	t.Logf("coffre ls on a small vault (test scrypt cost): median %v alone, %v through the app",
		alone.Round(time.Millisecond), through.Round(time.Millisecond))
	if lsThrough.Stdout != lsAlone.Stdout || lsThrough.Stderr != "" {
		t.Fatalf("ls through the app printed\n%s%s\nalone:\n%s", lsThrough.Stdout, lsThrough.Stderr, lsAlone.Stdout)
	}
	if got := viaApp.MustRun("vault", "list", "--json"); got != vaultsAlone {
		t.Fatalf("vault list through the app:\n%s\nalone:\n%s", got, vaultsAlone)
	}
	missing := viaApp.Run("ls", "nosuch:/")
	if missing.Code != missingAlone.Code || missing.Stderr != missingAlone.Stderr {
		t.Fatalf("a missing vault through the app: exit %d %q, alone: exit %d %q", missing.Code, missing.Stderr, missingAlone.Code, missingAlone.Stderr)
	}
	if st := viaApp.MustRun("status"); !strings.Contains(st, "organisation  Clinique des Pins") || !strings.Contains(st, "last connection  20") {
		t.Fatalf("status through the app:\n%s", st)
	}

	// put and get: the app reads and writes the local paths.
	note := filepath.Join(dir, "note.txt")
	os.WriteFile(note, []byte("written through the app"), 0o600)
	if out := viaApp.MustRun("put", note, "cardiology:/"); !strings.Contains(out, "note.txt → /note.txt (v1, 23 bytes)") {
		t.Fatalf("put through the app printed %q", out)
	}
	back := filepath.Join(t.TempDir(), "back")
	viaApp.MustRun("get", "cardiology:/", back)
	if got := readFile(t, filepath.Join(back, "note.txt")); string(got) != "written through the app" {
		t.Fatalf("get through the app: %q", got)
	}
	if got := readFile(t, filepath.Join(back, "scans", "a.png")); !bytes.Equal(got, readFile(t, filepath.Join(dir, "scans", "a.png"))) {
		t.Fatal("get through the app: scans/a.png differs")
	}
	if r := viaApp.Run("get", "cardiology:/note.txt", filepath.Join(back, "note.txt")); r.OK() || !strings.Contains(r.Stderr, "--force") {
		t.Fatalf("get over an existing file through the app:\n%s", r)
	}

	// mkdir, mv and rm too.
	viaApp.MustRun("mkdir", "-p", "cardiology:/2026/dec")
	viaApp.MustRun("mv", "cardiology:/report.pdf", "cardiology:/2026/dec/report.pdf")
	if out := viaApp.MustRun("ls", "cardiology:/2026/dec"); !strings.Contains(out, "report.pdf") {
		t.Fatalf("ls after mv through the app: %q", out)
	}
	if r := viaApp.Run("rm", "cardiology:/2026"); r.OK() {
		t.Fatalf("rm of a folder without -r through the app succeeded:\n%s", r)
	}
	viaApp.MustRun("rm", "-r", "cardiology:/2026")
	if out := viaApp.MustRun("ls", "cardiology:/"); strings.Contains(out, "2026/") || strings.Contains(out, "report.pdf") {
		t.Fatalf("ls after rm -r through the app: %q", out)
	}

	// coffre lock reaches the app: the commands work alone again (and the
	// wrong passphrase shows); coffre unlock gives it the keys back.
	if out := alice.MustRun("lock"); !strings.Contains(out, "locked 1 running") {
		t.Fatalf("lock: %q", out)
	}
	if r := viaApp.Run("ls", "cardiology:/"); r.OK() || !strings.Contains(r.Stderr, "wrong passphrase") {
		t.Fatalf("ls with the app locked and a wrong passphrase:\n%s", r)
	}
	alice.MustRun("unlock")
	if out := viaApp.MustRun("ls", "cardiology:/"); !strings.Contains(out, "note.txt") {
		t.Fatalf("ls after unlock: %q", out)
	}
	if out := alice.MustRun("app", "open", "--open=false"); !strings.HasPrefix(out, "http://127.0.0.1:") || !strings.Contains(out, "/?token=") {
		t.Fatalf("app open: %q", out)
	}

	// A second app of the same data directory stops at once.
	if r := alice.Run("app"); r.OK() || !strings.Contains(r.Stderr, "already runs for this data directory (open its interface: coffre app open)") {
		t.Fatalf("a second app:\n%s", r)
	}

	syscall.Kill(p.Pid(), syscall.SIGTERM)
	if r := p.Wait(); !r.OK() || !strings.Contains(r.Stdout, "/?token=") {
		t.Fatalf("coffre app on SIGTERM:\n%s", r)
	}
	if _, err := os.Stat(app.SocketPath(alice.Home)); !os.IsNotExist(err) {
		t.Fatalf("the socket is left after the app stopped: %v", err)
	}
	if r := viaApp.Run("ls", "cardiology:/"); r.OK() {
		t.Fatal("ls with a wrong passphrase succeeded with the app stopped")
	}
}

// TestAppWipesOnRevocation: Bob revokes his laptop while its app runs
// unlocked. The app checks the revocation in its own log and erases the
// laptop's data; a command run on the laptop then says who revoked it and
// when, as the app does, and exits with the status of a refusal
// (SPEC.md §15.3).
func TestAppWipesOnRevocation(t *testing.T) {
	longScenario(t)
	const d = "saules.example"
	o := startVaultOrg(t, d, "bob")
	bob := o.bob
	laptop := NewDevice(t, "bob-laptop")
	EnrolDevice(t, bob, laptop, "bob-laptop")
	bob.MustRun("vault", "create", "cardio")
	p := startApp(t, laptop)
	laptop.MustRun("ls", "cardio:/")
	bob.MustRun("device", "revoke", "bob-laptop")

	var r Result
	waitUntil(t, "a command on the laptop says it was revoked", func() bool {
		r = laptop.Run("ls", "cardio:/")
		return !r.OK() && strings.Contains(r.Stderr, "this device has been revoked by bob@"+d)
	})
	if r.Code != 5 || !strings.Contains(r.Stderr, "copies of the organisation's data were erased") {
		t.Errorf("ls on the revoked laptop: %s", r)
	}
	if _, err := os.Stat(filepath.Join(laptop.Home, "device.age")); !os.IsNotExist(err) {
		t.Errorf("the key file survived the app's wipe: %v", err)
	}
	if c, st := app.Dial(context.Background(), laptop.Home); c == nil || st.Revoked == nil {
		t.Fatalf("the app's state after the wipe: %+v", st)
	}
	// Again, once the app has erased everything: the same sentence.
	if r := laptop.Run("ls", "cardio:/"); r.Code != 5 || !strings.Contains(r.Stderr, "has been revoked by bob@"+d) {
		t.Errorf("ls once the app erased the laptop: %s", r)
	}
	syscall.Kill(p.Pid(), syscall.SIGTERM)
	if r := p.Wait(); !r.OK() || !strings.Contains(r.Stdout, "this device was revoked on") || !strings.Contains(r.Stdout, "erased its copies") ||
		!strings.Contains(r.Stderr, "coffre app: this device has been revoked by bob@"+d) {
		t.Errorf("the app after the wipe: %s", r)
	}
}
