package synctest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/tests/harness"
	"github.com/coffre/coffre/tests/hostile"
)

// run runs a one-shot coffre command on the device and returns what it
// printed; it fails the test if the command fails.
func (d *procDev) run(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(d.bin, append([]string{"--home", d.home}, args...)...)
	cmd.Env = append(cleanEnv(), "COFFRE_PASSPHRASE="+string(hostile.Passphrase))
	cmd.SysProcAttr = harness.NoTerminal()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("coffre %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// waitOutput waits until the sync printed want.
func (p *syncProc) waitOutput(t testing.TB, want string, within time.Duration) {
	t.Helper()
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if strings.Contains(p.out.String(), want) {
			return
		}
	}
	t.Fatalf("coffre sync did not print %q within %s:\n%s", want, within, lastLines(p.out.String(), 20))
}

// TestSyncDailyUse: the person running coffre commands keeps a running
// `coffre sync`'s idle lock away though the folder does not change, and
// those commands work while it runs (state.db is shared); the sync names
// the files it moves, both ways; left alone it locks and says "locked: run
// coffre unlock", and so does `coffre status`; killed, `coffre status`
// says it stopped instead of showing its last state.
func TestSyncDailyUse(t *testing.T) {
	w := newProcWorld(t, devSpec{"alice", "alice", "alice-laptop"})
	alice := w.procDev(t, "alice")
	const lockAfter = 4 * time.Second
	p := alice.start(t, append(fast, "--lock-after", lockAfter.String())...)
	p.waitOutput(t, "Ctrl-C to stop", 30*time.Second)

	for end := time.Now().Add(2 * lockAfter); time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
		alice.run(t, "vault", "list")
	}
	if out := p.out.String(); strings.Contains(out, "locked") {
		t.Fatalf("the sync locked while the person ran coffre commands:\n%s", lastLines(out, 20))
	}
	// A scan pass (every second here) shows as "syncing" while it runs:
	// the status is up to date between passes.
	out := alice.run(t, "status")
	for end := time.Now().Add(10 * time.Second); !strings.Contains(out, "shared: running, up to date") && time.Now().Before(end); {
		time.Sleep(200 * time.Millisecond)
		out = alice.run(t, "status")
	}
	if !strings.Contains(out, "shared: running, up to date") {
		t.Errorf("coffre status of a running sync, never up to date in 10 s:\n%s", out)
	}

	local := filepath.Join(t.TempDir(), "letter.txt")
	if err := os.WriteFile(local, []byte("dear colleague"), 0o600); err != nil {
		t.Fatal(err)
	}
	alice.run(t, "put", local, "shared:/letter.txt")
	p.waitOutput(t, "↓ letter.txt", 30*time.Second)
	if err := os.WriteFile(filepath.Join(alice.dir, "referral.txt"), []byte("to cardiology"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.waitOutput(t, "↑ referral.txt", 30*time.Second)
	if out := alice.run(t, "ls", "shared:/"); !strings.Contains(out, "referral.txt") {
		t.Errorf("coffre ls while the sync runs:\n%s", out)
	}

	p.waitOutput(t, "shared: locked: run coffre unlock", 3*lockAfter)
	if out := alice.run(t, "status"); !strings.Contains(out, "shared: locked: run coffre unlock") {
		t.Errorf("coffre status of a locked sync:\n%s", out)
	}

	p.kill9()
	if out := alice.run(t, "status"); !strings.Contains(out, "shared: stopped (no coffre sync running)") {
		t.Errorf("coffre status of a killed sync:\n%s", out)
	}
}
