// Package browser drives coffre's web interface in a real browser: Debian's
// Chromium, through Playwright (playwright-core from npm, pinned in
// package.json), against real coffre-server and `coffre app` processes
// started through tests/harness. Each Go test sets up its world (a server,
// an organisation, devices, apps), writes what the script needs into a
// JSON file, and runs one scenario script with node; the script's own
// assertions fail the test. One exception: TestLockOut runs the app in the
// test's process, to move the clock of its unlock rate limit.
//
// What it needs: node, /usr/bin/chromium (or $COFFRE_CHROMIUM), and
// `npm ci` run in this folder. scripts/test and .ci/run install them; with
// CI set, a missing one fails the suite instead of skipping it.
//
// COFFRE_SCREENSHOTS=DIR saves screenshots of the main screens (1280×800)
// into DIR: `COFFRE_SCREENSHOTS=$PWD/docs/screenshots go test ./tests/browser`
// refreshes the README's.
package browser

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/tests/harness"
	"github.com/coffre/coffre/tests/testbackend"
)

func TestMain(m *testing.M) {
	os.Exit(harness.Main(testbackend.RunFunc(func() int { return m.Run() })))
}

// scriptTimeout bounds one scenario script (a browser, two apps, an
// enrolment) on a loaded 2-core machine.
const scriptTimeout = 5 * time.Minute

// chromium is the browser the scripts launch.
func chromium() string {
	if p := os.Getenv("COFFRE_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// needBrowser skips in the short lane, and checks that node, Chromium and
// playwright-core are there: missing in CI, the suite fails; elsewhere it
// skips, saying what to install.
func needBrowser(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser scenario: runs without -short (scripts/test)")
	}
	var missing []string
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node (apt-get install nodejs npm)")
	}
	if _, err := os.Stat(chromium()); err != nil {
		missing = append(missing, chromium()+" (apt-get install chromium)")
	}
	if _, err := os.Stat(filepath.Join("node_modules", "playwright-core", "package.json")); err != nil {
		missing = append(missing, "playwright-core (npm ci in tests/browser)")
	}
	if len(missing) == 0 {
		return
	}
	msg := "the browser suite needs " + strings.Join(missing, ", ")
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// App is one running `coffre app` process.
type App struct {
	Name       string
	Home       string
	Passphrase string
	// URL is the interface's address with its one-time login token, as
	// the app printed it.
	URL string

	cmd    *exec.Cmd
	output harness.SyncBuffer
	done   chan struct{}
}

var urlRe = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+/\S*`)

// startApp starts `coffre app` on device d's data directory with extra
// flags, and waits for it to print the interface's address. A device
// without keys yet (a newcomer) starts without a passphrase: it is chosen
// in the interface. The app is stopped when the test ends.
func startApp(t *testing.T, d *harness.Device, withPassphrase bool, extra ...string) *App {
	t.Helper()
	a := &App{Name: d.Name, Home: d.Home, Passphrase: d.Passphrase, done: make(chan struct{})}
	env := append(harness.CleanEnv(), client.TestWorkFactorEnv+"=10")
	if withPassphrase {
		env = append(env, "COFFRE_PASSPHRASE="+d.Passphrase)
	}
	args := append([]string{"--home", d.Home, "app", "--addr", "127.0.0.1:0"}, extra...)
	a.cmd = exec.Command(harness.Coffre(t), args...)
	a.cmd.Env = env
	a.cmd.SysProcAttr = harness.NoTerminal()
	a.cmd.Stdin = strings.NewReader("")
	pr, pw := io.Pipe()
	a.cmd.Stdout, a.cmd.Stderr = pw, pw
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		r := bufio.NewReader(pr)
		for {
			line, err := r.ReadString('\n')
			a.output.WriteString(line)
			if m := urlRe.FindString(line); m != "" {
				select {
				case found <- m:
				default:
				}
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		a.cmd.Wait()
		pw.Close()
		close(a.done)
	}()
	t.Cleanup(func() {
		a.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-a.done:
		case <-time.After(10 * time.Second):
			a.cmd.Process.Kill()
			<-a.done
		}
		if t.Failed() {
			t.Logf("%s's app output:\n%s", a.Name, a.output.String())
		}
	})
	select {
	case a.URL = <-found:
	case <-a.done:
		t.Fatalf("%s's app exited before printing its address:\n%s", a.Name, a.output.String())
	case <-time.After(harness.ServerTimeout):
		t.Fatalf("%s's app printed no address in %v:\n%s", a.Name, harness.ServerTimeout, a.output.String())
	}
	t.Logf("%s's app: %s", a.Name, a.URL)
	return a
}

// Output is what the app printed so far.
func (a *App) Output() string { return a.output.String() }

// runScript runs scenario script NAME.mjs with config (written to a JSON
// file the script reads from $COFFRE_BROWSER_CONFIG); a failing script
// fails the test with its output.
func runScript(t *testing.T, name string, config map[string]any) {
	t.Helper()
	config["chromium"] = chromium()
	if dir := os.Getenv("COFFRE_SCREENSHOTS"); dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			t.Fatal(err)
		}
		config["screenshots"] = abs
	}
	b, err := json.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", name+".mjs")
	cmd.Env = append(harness.CleanEnv(), "COFFRE_BROWSER_CONFIG="+cfg)
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("node %s.mjs (%v):\n%s", name, time.Since(start).Round(time.Millisecond), out)
	if ctx.Err() != nil {
		t.Fatalf("node %s.mjs timed out after %v", name, scriptTimeout)
	}
	if err != nil {
		t.Fatalf("node %s.mjs failed: %v", name, err)
	}
	if !strings.Contains(string(out), " passed, 0 failed") {
		t.Fatalf("node %s.mjs did not report its steps", name)
	}
}

// organisation starts a server and bootstraps an organisation whose first
// administrator is Alice.
func organisation(t *testing.T) *harness.Organisation {
	t.Helper()
	w := harness.New(t)
	return w.Organisation("Clinique des Lilas", "Alice", "alice@example.org")
}

func appConfig(a *App) map[string]any {
	return map[string]any{"url": a.URL, "passphrase": a.Passphrase, "name": a.Name, "home": a.Home}
}

// One person's files in the interface: paging and sorting a folder of
// hundreds of files, uploads (button, drop, folder, cancel), preview and
// download, folder operations, trash, history and restore, "as of".
func TestFiles(t *testing.T) {
	needBrowser(t)
	org := organisation(t)
	const vault, bigCount = "Radiologie", 250
	org.Admin.MustRun("vault", "create", vault)
	serie := filepath.Join(t.TempDir(), "serie")
	if err := os.Mkdir(serie, 0o700); err != nil {
		t.Fatal(err)
	}
	for i := range bigCount {
		if err := os.WriteFile(filepath.Join(serie, fmt.Sprintf("scan-%04d.txt", i)), []byte(fmt.Sprint(i)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	org.Admin.MustRun("put", serie, vault+":/serie")
	admin := startApp(t, org.Admin, false)
	cfg := appConfig(admin)
	cfg["displayName"] = "Alice"
	runScript(t, "files", map[string]any{"admin": cfg, "vault": vault, "bigCount": bigCount})
}

// The lock screen, the vault list (create, rename, archive), the lock
// button, a wrong passphrase, and the last connection shown after unlock.
func TestLockAndVaults(t *testing.T) {
	needBrowser(t)
	org := organisation(t)
	admin := startApp(t, org.Admin, false)
	runScript(t, "vaults", map[string]any{"admin": appConfig(admin)})
}

// A file named like HTML shows as text, and nothing it says runs.
func TestEscaping(t *testing.T) {
	needBrowser(t)
	org := organisation(t)
	admin := startApp(t, org.Admin, false)
	runScript(t, "escaping", map[string]any{"admin": appConfig(admin)})
}

// With a short --lock-after, the interface goes to the lock screen by
// itself; the passphrase brings it back where it was.
func TestIdleLock(t *testing.T) {
	needBrowser(t)
	org := organisation(t)
	admin := startApp(t, org.Admin, false, "--lock-after", "4s")
	runScript(t, "idlelock", map[string]any{"admin": appConfig(admin), "lockAfterMs": 4000})
}

// Two people in two browsers: the administrator invites, the newcomer
// claims in the interface and both compare codes on screen; a shared vault,
// a file dropped on one side seen on the other, preview, history and
// restore, and an unshare that takes access away.
func TestTwoPeople(t *testing.T) {
	needBrowser(t)
	org := organisation(t)
	admin := startApp(t, org.Admin, false)
	bobDevice := harness.NewDevice(t, "bob")
	bob := startApp(t, bobDevice, false)
	runScript(t, "twopeople", map[string]any{
		"admin": appConfig(admin),
		"bob":   map[string]any{"url": bob.URL, "passphrase": fmt.Sprintf("passphrase of %s", bobDevice.Name), "name": "Bob Durand", "email": "bob@example.org"},
	})
}

// A second computer of the same person, enrolled in the interface on both
// sides, opens on the same vaults.
func TestSecondDevice(t *testing.T) {
	needBrowser(t)
	org := organisation(t)
	admin := startApp(t, org.Admin, false)
	laptop := harness.NewDevice(t, "laptop")
	second := startApp(t, laptop, false)
	runScript(t, "seconddevice", map[string]any{
		"admin":  appConfig(admin),
		"laptop": map[string]any{"url": second.URL, "passphrase": laptop.Passphrase},
	})
}

// The sync screen against the app's real sync service: a folder under the
// test's temporary directory kept in sync with a vault, its state, a file
// written on disk seen in the vault's list, pause and resume.
func TestSync(t *testing.T) {
	needBrowser(t)
	org := organisation(t)
	const vault = "Cardiologie"
	org.Admin.MustRun("vault", "create", vault)
	dir := filepath.Join(t.TempDir(), "Cardiologie")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	admin := startApp(t, org.Admin, false)
	runScript(t, "sync", map[string]any{"admin": appConfig(admin), "vault": vault, "dir": dir})
}

// Keyboard only: unlock, a vault, a file's preview, its delete question
// and its history, with Tab, Enter and Escape, the focus always visible.
func TestKeyboard(t *testing.T) {
	needBrowser(t)
	org := organisation(t)
	const vault, file, content = "Pédiatrie", "consultation.txt", "Note de consultation"
	org.Admin.MustRun("vault", "create", vault)
	src := filepath.Join(t.TempDir(), file)
	if err := os.WriteFile(src, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	org.Admin.MustRun("put", src, vault+":/"+file)
	admin := startApp(t, org.Admin, false)
	runScript(t, "keyboard", map[string]any{"admin": appConfig(admin), "vault": vault, "file": file, "content": content})
}

// Emergency access in the interface: Carol, named by a vault's emergency
// policy, opens it with a reason; Alice, its owner, sees who, why and
// until when. Then Alice, an administrator, changes Carol's profile on the
// People page.
func TestEmergency(t *testing.T) {
	needBrowser(t)
	org := organisation(t)
	carolDevice := harness.NewDevice(t, "carol")
	harness.EnrolUser(t, org.Admin, "carol@example.org", "standard", carolDevice, "Carol Martin")
	const vault = "Patiente 1234"
	org.Admin.MustRun("vault", "create", vault)
	org.Admin.MustRun("vault", "emergency-policy", vault, "--invokers", "carol@example.org", "--duration", "4h")
	id := org.Admin.Vault(vault).ID
	admin := startApp(t, org.Admin, false)
	carol := startApp(t, carolDevice, false)
	runScript(t, "emergency", map[string]any{"admin": appConfig(admin), "carol": appConfig(carol), "vault": vault, "vaultId": id})
}

// A laptop revoked while away: unlocked in the interface, the app checks
// the revocation in its own log and erases; the page shows who revoked it
// and when, the synced folder cleaned and the changed file kept aside
// (SPEC.md §15.3).
func TestRevokedDevice(t *testing.T) {
	needBrowser(t)
	org := organisation(t)
	const vault = "Cardiologie"
	org.Admin.MustRun("vault", "create", vault)
	src := filepath.Join(t.TempDir(), "note.txt")
	if err := os.WriteFile(src, []byte("patient note\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	org.Admin.MustRun("put", src, vault+":/note.txt")
	org.Admin.MustRun("put", src, vault+":/other.txt")
	laptop := harness.NewDevice(t, "laptop")
	harness.EnrolDevice(t, org.Admin, laptop, "laptop")
	dir := filepath.Join(t.TempDir(), vault)
	laptop.MustRun("sync", "--once", vault, dir)
	if err := os.WriteFile(filepath.Join(dir, "other.txt"), []byte("changed on the laptop\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	org.Admin.MustRun("device", "revoke", "laptop")
	app := startApp(t, laptop, false)
	runScript(t, "revoked", map[string]any{"laptop": appConfig(app), "dir": dir, "revokedBy": "alice@example.org"})
	if _, err := os.Stat(filepath.Join(dir, "note.txt")); !os.IsNotExist(err) {
		t.Errorf("the unchanged synced file survived: %v", err)
	}
	if kept, _ := filepath.Glob(dir + ".kept-*/other.txt"); len(kept) != 1 {
		t.Errorf("the changed file was not kept aside: %v", kept)
	}
}

// The devices page: two computers listed from the verified log, the
// laptop revoked after a confirmation, the page saying what was rotated.
// The laptop's label is HTML-like: it shows as text.
func TestDevicesPage(t *testing.T) {
	needBrowser(t)
	org := organisation(t)
	const vault, label = "Cardiologie", "laptop <b>Lyon</b>"
	org.Admin.MustRun("vault", "create", vault)
	laptop := harness.NewDevice(t, "laptop")
	harness.EnrolDevice(t, org.Admin, laptop, label)
	harness.EnrolUser(t, org.Admin, "bob@example.org", "standard", harness.NewDevice(t, "bob"), "Bob Durand")
	admin := startApp(t, org.Admin, false)
	runScript(t, "devices", map[string]any{"admin": appConfig(admin), "laptopLabel": label, "vault": vault})
}

// Cancelling a code exchange from the greeter's side: both screens say it
// stopped, the newcomer is asked no passphrase and is not enrolled.
func TestCancelExchange(t *testing.T) {
	needBrowser(t)
	org := organisation(t)
	admin := startApp(t, org.Admin, false)
	bobDevice := harness.NewDevice(t, "bob")
	bob := startApp(t, bobDevice, false)
	runScript(t, "cancelexchange", map[string]any{
		"admin": appConfig(admin),
		"bob":   map[string]any{"url": bob.URL, "name": "Bob Durand", "email": "bob@example.org"},
	})
}

// The session cookie alone opens nothing in a real browser (SECURITY.md
// A71): the page's token comes in the login redirect's fragment and leaves
// the address; a reload and another tab carry on; a browser holding only
// the cookie gets the login message and 403 csrf from every call.
func TestStolenCookie(t *testing.T) {
	needBrowser(t)
	org := organisation(t)
	admin := startApp(t, org.Admin, false)
	runScript(t, "stolencookie", map[string]any{"admin": appConfig(admin)})
}
