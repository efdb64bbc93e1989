package harness_test

import (
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/coffre/coffre/tests/harness"
	"github.com/coffre/coffre/tests/testbackend"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// A server can be killed, restarted on its port and data, and stopped;
// what it was told before the kill is still there after.
func TestServerLifecycle(t *testing.T) {
	t.Parallel()
	srv := harness.New(t).Server(testbackend.New(t))
	id, bootstrap := srv.CreateOrg("Lifecycle")
	if !strings.HasPrefix(bootstrap, "coffre://"+srv.Addr+"/"+id+"?") {
		t.Fatalf("bootstrap link %q does not name the server %s and organisation %s", bootstrap, srv.Addr, id)
	}
	srv.Kill()
	if srv.Running() {
		t.Fatal("running after Kill")
	}
	srv.Start()
	if out := srv.MustRun("org", "list", "--data", srv.Data); !strings.Contains(out, id) {
		t.Errorf("organisation %s gone after a kill and restart:\n%s", id, out)
	}
	srv.Stop()
	srv.Start()
	if !srv.Running() || !strings.Contains(srv.Output(), "listening") {
		t.Errorf("not running after Start:\n%s", srv.Output())
	}
}

// A command's result carries its output and exit status, and a missing
// binary is status -1.
func TestRun(t *testing.T) {
	t.Parallel()
	r := harness.Run(t, harness.CleanEnv(), "in", "sh", "-c", `cat; echo err >&2; exit 3`)
	if r.Code != 3 || r.Stdout != "in" || r.Stderr != "err\n" || r.OK() {
		t.Errorf("got %s", r)
	}
	if r := harness.Run(t, nil, "", "/nonexistent/coffre"); r.Code != -1 {
		t.Errorf("missing binary: exit %d, want -1", r.Code)
	}
}

// CleanEnv drops the caller's COFFRE_ variables.
func TestCleanEnv(t *testing.T) {
	t.Setenv("COFFRE_PASSPHRASE", "leaked")
	for _, kv := range harness.CleanEnv() {
		if strings.HasPrefix(kv, "COFFRE_") {
			t.Errorf("%s in the clean environment", kv)
		}
	}
}

func TestSyncBufferConcurrentWriters(t *testing.T) {
	t.Parallel()
	var b harness.SyncBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				b.WriteString("x")
				_ = b.String() // a reader while others write
			}
		})
	}
	wg.Wait()
	if n := len(b.String()); n != 800 {
		t.Errorf("%d bytes, want 800", n)
	}
}

func TestParseInvitation(t *testing.T) {
	t.Parallel()
	out := "invitation 0a1b for bob@example.org (standard), valid until …\nlink (send it to them; it works once):\ncoffre://h:1/o?kind=user\nthen run: …\n"
	id, l := harness.ParseInvitation(t, out)
	if id != "0a1b" || l != "coffre://h:1/o?kind=user" {
		t.Errorf("got %q %q", id, l)
	}
	if got := harness.LastLines("a\nb\nc", 2); got != "b\nc" {
		t.Errorf("LastLines: %q", got)
	}
}
