package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCompletionAsksTheApp: a Tab completes vault names and paths without
// a prompt. With no passphrase at hand and no app, nothing is offered (a
// Tab never asks); with the app running unlocked, the app answers: names,
// a folder's items, a folder with its slash, and nothing inside a file.
func TestCompletionAsksTheApp(t *testing.T) {
	srv := StartServer(t)
	_, link := srv.CreateOrg("Clinique des Pins")
	alice := NewDevice(t, "alice")
	alice.Bootstrap(link, "Alice", "alice@pins.example")
	alice.MustRun("vault", "create", "cardiology")
	alice.MustRun("vault", "create", "oncology")
	dir := t.TempDir()
	writeTree(t, dir, map[string][]byte{"report.pdf": []byte("%PDF report"), "scans/a.png": randomBytes(300), "scans/b.png": randomBytes(300)})
	alice.MustRun("put", filepath.Join(dir, "report.pdf"), "cardiology:/")
	alice.MustRun("put", filepath.Join(dir, "scans"), "cardiology:/scans")

	// The passphrase in the environment is wrong: only the app can answer.
	tab := *alice
	tab.Passphrase = "not the passphrase"
	complete := func(args ...string) []string {
		t.Helper()
		out := tab.MustRun(append([]string{"__complete"}, args...)...)
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if l != "" && !strings.HasPrefix(l, ":") {
				got = append(got, l)
			}
		}
		return got
	}
	if got := complete("ls", "c"); len(got) != 0 {
		t.Fatalf("without the app and without the passphrase, completion offered %q", got)
	}

	startApp(t, alice)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"ls", ""}, "cardiology:/ oncology:/"},
		{[]string{"ls", "card"}, "cardiology:/"},
		{[]string{"vault", "rotate", "onc"}, "oncology"},
		{[]string{"ls", "cardiology:/"}, "cardiology:/report.pdf cardiology:/scans/"},
		{[]string{"get", "cardiology:/scans/"}, "cardiology:/scans/a.png cardiology:/scans/b.png"},
		{[]string{"get", "cardiology:/scans/b"}, "cardiology:/scans/b.png"},
		{[]string{"ls", "cardiology:/report.pdf/"}, ""},
		{[]string{"ls", "nosuch:/"}, ""},
	}
	for _, c := range cases {
		if got := strings.Join(complete(c.args...), " "); got != c.want {
			t.Errorf("completion of %q through the app: %q, want %q", c.args, got, c.want)
		}
	}
}
