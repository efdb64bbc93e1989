package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/tests/testbackend"
)

// TestDemoScript runs the README's main command, scripts/demo, to its end:
// the guided demo must work on a fresh machine, show each step of the
// story (vault, files, a move, history, sharing, a second device,
// revocation), and print every command it runs so that it can be copied
// and run again: quoted, each after a line saying why.
func TestDemoScript(t *testing.T) {
	longScenario(t)
	t.Parallel()
	testbackend.RequireEmbedded(t, "scripts/demo runs its own server on the embedded store")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "demo"), "--no-wait")
	cmd.Dir = root
	// The demo builds coffre as the README's command does, with the cheap
	// key-file cost of the tests (coffre_testcost, as tests/harness builds
	// it): at the full cost its forty commands take minutes here.
	cmd.Env = append(os.Environ(), "DEMO_DIR="+t.TempDir(), "GOFLAGS=-tags=coffre_testcost", client.TestWorkFactorEnv+"=10")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/demo failed: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{
		"bootstrapped; you are its first administrator",
		"enrolled Bob Durand <bob@lilas.example>",
		`vault "cardiology" created`,
		"scan.pdf → /2026/scan.pdf (v1, ",
		"report-bob.txt → /2026/report.txt (v2, ",
		"Bob Durand <bob@lilas.example> is now contributor of cardiology",
		"/2026/report.txt → /2026/reports/report.txt",
		"enrolled device",
		"same bytes",
		"removed bob@lilas.example from cardiology; the vault key was rotated",
		"you are no longer a member of vault",
		"revoked Bob Durand",
		"this device's user has been revoked",
		"last connection",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the demo's output lacks %q:\n%s", want, out)
		}
	}
	// history: Alice's first version, then Bob's.
	for _, re := range []string{`(?m)^ +v1 .*alice@lilas\.example$`, `(?m)^ +v2 .*bob@lilas\.example$`} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("the demo's history lacks %s:\n%s", re, out)
		}
	}

	// The commands, as printed: each after a line saying why, quoted where
	// a word needs it, and together a valid shell script.
	var commands []string
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "==") || strings.HasPrefix(l, " ") {
			continue
		}
		commands = append(commands, l)
		if i == 0 || !strings.HasPrefix(lines[i-1], "# ") {
			t.Errorf("command %q is not after a line saying why", l)
		}
	}
	for _, want := range []string{
		"coffre-server org create --data srv 'Clinique des Lilas'",
		"coffre --home alice org bootstrap \"$BOOTSTRAP\" --name 'Alice Martin' --email alice@lilas.example --device-label alice-laptop",
		"coffre --home alice user greet",
		"coffre --home bob invitation claim \"$LINK\" --name 'Bob Durand' --device-label bob-workstation",
		"coffre --home alice vault create cardiology",
		"coffre --home alice mv cardiology:/2026/report.txt cardiology:/2026/reports/report.txt",
		"coffre --home alice history cardiology:/2026/reports/report.txt",
		"coffre --home alice vault share cardiology bob@lilas.example --role contributor",
		"coffre --home alice user revoke bob@lilas.example",
	} {
		if !slices.Contains(commands, want) {
			t.Errorf("the demo does not print the command %q; it printed:\n%s", want, strings.Join(commands, "\n"))
		}
	}
	if !slices.ContainsFunc(commands, func(c string) bool { return strings.HasPrefix(c, "LINK='coffre://") }) {
		t.Errorf("the demo does not print the link it keeps, quoted; it printed:\n%s", strings.Join(commands, "\n"))
	}
	check := exec.Command("bash", "-n")
	check.Stdin = strings.NewReader(strings.Join(commands, "\n"))
	if msg, err := check.CombinedOutput(); err != nil || len(commands) < 30 {
		t.Errorf("the %d printed commands are not a shell script (%v): %s\n%s", len(commands), err, msg, strings.Join(commands, "\n"))
	}
}
