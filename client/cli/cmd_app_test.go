package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A52: --open never puts the login token on a command line (every account
// of the machine reads those with ps): the browser gets a private file
// that redirects to the link.
func TestOpenInBrowserKeepsTheTokenOffTheCommandLine(t *testing.T) {
	bin := t.TempDir()
	args := filepath.Join(t.TempDir(), "args")
	script := "#!/bin/sh\necho \"$@\" > " + args + "\n"
	if err := os.WriteFile(filepath.Join(bin, "xdg-open"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, "app"), 0o700)
	const link = "http://127.0.0.1:8384/?token=SECRET-TOKEN"
	openInBrowser(home, link)
	var got []byte
	for deadline := time.Now().Add(10 * time.Second); len(got) == 0; time.Sleep(20 * time.Millisecond) {
		got, _ = os.ReadFile(args)
		if time.Now().After(deadline) {
			t.Fatal("xdg-open was not run")
		}
	}
	arg := strings.TrimSpace(string(got))
	if strings.Contains(arg, "SECRET-TOKEN") || !strings.HasPrefix(arg, "file://") {
		t.Fatalf("xdg-open %q: want a file:// page, never the token", arg)
	}
	page := strings.TrimPrefix(arg, "file://")
	st, err := os.Stat(page)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("the page is %v, want 0600", st.Mode())
	}
	if body, _ := os.ReadFile(page); !strings.Contains(string(body), `url=`+link) {
		t.Fatalf("the page does not redirect to the link: %s", body)
	}
}
