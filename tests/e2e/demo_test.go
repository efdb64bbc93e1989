package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/tests/testbackend"
)

// TestDemoScript runs the README's main command, scripts/demo, to its end:
// the guided demo must work on a fresh machine.
func TestDemoScript(t *testing.T) {
	longScenario(t)
	t.Parallel()
	testbackend.RequireEmbedded(t, "scripts/demo runs its own server on the embedded store")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := lis.Addr().(*net.TCPAddr).Port
	lis.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "demo"), "--no-wait")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "DEMO_DIR="+t.TempDir(), "PORT="+strconv.Itoa(port))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/demo failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		"bootstrapped; you are its first administrator",
		"enrolled Bob Durand <bob@lilas.example>",
		"enrolled device",
		"revoked Bob Durand",
		"this device's user has been revoked",
		"last connection",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the demo's output lacks %q:\n%s", want, out)
		}
	}
}
