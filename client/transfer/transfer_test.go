package transfer_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/client/transfer"
	"github.com/coffre/coffre/tests/hostile"
	"github.com/coffre/coffre/workspace"
)

func TestMain(m *testing.M) {
	hostile.FastKeys()
	os.Exit(hostile.Main(m))
}

// vault bootstraps a device on a real server and opens a new vault of it.
func vault(t *testing.T) *workspace.Vault {
	t.Helper()
	s := hostile.Bootstrap(t, hostile.Start(t), filepath.Join(t.TempDir(), "home"))
	ctx := context.Background()
	if _, err := s.CreateVault(ctx, "cardiology"); err != nil {
		t.Fatal(err)
	}
	v, err := s.OpenVault(ctx, "cardiology")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// recorder keeps what a transfer reports.
type recorder struct {
	mu      sync.Mutex // Bytes comes from several goroutines
	started []string
	bytes   int64
	done    []string // "from -> to"
	skipped []string
}

func (r *recorder) Started(remote string, _ int64) { r.started = append(r.started, remote) }
func (r *recorder) Bytes(done int64) {
	r.mu.Lock()
	r.bytes = max(r.bytes, done)
	r.mu.Unlock()
}
func (r *recorder) Done(from, to string, v workspace.Version) {
	r.done = append(r.done, from+" -> "+to)
}
func (r *recorder) Skipped(local string, reason error) {
	if errors.Is(reason, transfer.ErrNotRegular) {
		r.skipped = append(r.skipped, local)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFolderRoundTrip: a folder put recursively comes back identical with
// get; a link in it is reported and left out; each file is reported once.
func TestFolderRoundTrip(t *testing.T) {
	v := vault(t)
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "scans")
	files := map[string]string{
		"a.txt":        "first",
		"b/c.txt":      "second",
		"b/d/e.txt":    strings.Repeat("third ", 1000),
		"empty/.keep":  "",
		"b/d/f g.jpeg": "fourth",
	}
	for p, c := range files {
		write(t, filepath.Join(src, p), c)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(src, "b", "link")); err != nil {
		t.Fatal(err)
	}
	var put recorder
	if err := transfer.Put(ctx, v, src, "/scans", &put); err != nil {
		t.Fatal(err)
	}
	if len(put.done) != len(files) || len(put.started) != 0 {
		t.Errorf("put reported %v (started %v), want one line per file and no single-file progress", put.done, put.started)
	}
	if !slices.Contains(put.done, filepath.Join(src, "b", "d", "e.txt")+" -> /scans/b/d/e.txt") {
		t.Errorf("put reported %v", put.done)
	}
	if want := []string{filepath.Join(src, "b", "link")}; !slices.Equal(put.skipped, want) {
		t.Errorf("skipped %v, want %v", put.skipped, want)
	}

	dst := filepath.Join(t.TempDir(), "back")
	var get recorder
	if err := transfer.Get(ctx, v, "/scans", dst, transfer.GetOptions{}, &get); err != nil {
		t.Fatal(err)
	}
	for p, c := range files {
		b, err := os.ReadFile(filepath.Join(dst, p))
		if err != nil || !bytes.Equal(b, []byte(c)) {
			t.Errorf("%s came back as %q (%v), want %q", p, b, err, c)
		}
	}
	if _, err := os.Lstat(filepath.Join(dst, "b", "link")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the link came back: %v", err)
	}
	if st, err := os.Stat(filepath.Join(dst, "b", "d")); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("folder made by get: %v, want mode 0700", err)
	}
	if len(get.done) != len(files) || len(get.started) != len(files) {
		t.Errorf("get reported %d files, %d started; want %d", len(get.done), len(get.started), len(files))
	}

	// Putting the folder again keeps its folders and versions its files.
	write(t, filepath.Join(src, "a.txt"), "first, edited")
	if err := transfer.Put(ctx, v, src, "/scans", &recorder{}); err != nil {
		t.Fatalf("second put: %v", err)
	}
	ver, err := v.Stat("/scans/a.txt", time.Time{})
	if err != nil || ver.Version != 2 {
		t.Errorf("a.txt after a second put: v%d, %v; want v2", ver.Version, err)
	}
}

// TestFile: one file goes up with progress and comes back into a folder
// under its own name; a past version comes back with at.
func TestFile(t *testing.T) {
	v := vault(t)
	ctx := context.Background()
	dir := t.TempDir()
	local := filepath.Join(dir, "report.pdf")
	content := make([]byte, 3<<20) // several blocks
	rand.Read(content)
	if err := os.WriteFile(local, content, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := v.Mkdir(ctx, "/2026"); err != nil {
		t.Fatal(err)
	}
	var put recorder
	if err := transfer.Put(ctx, v, local, "/2026/report.pdf", &put); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(put.started, []string{"/2026/report.pdf"}) || put.bytes != int64(len(content)) {
		t.Errorf("put progress: started %v, %d bytes; want the file, %d bytes", put.started, put.bytes, len(content))
	}
	if want := []string{local + " -> /2026/report.pdf"}; !slices.Equal(put.done, want) {
		t.Errorf("put reported %v, want %v", put.done, want)
	}
	before := time.Now()
	time.Sleep(1100 * time.Millisecond) // versions are timed to the second
	if err := os.WriteFile(local, []byte("second version"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := transfer.Put(ctx, v, local, "/2026/report.pdf", &recorder{}); err != nil {
		t.Fatal(err)
	}

	into := t.TempDir()
	var get recorder
	if err := transfer.Get(ctx, v, "/2026/report.pdf", into, transfer.GetOptions{}, &get); err != nil {
		t.Fatal(err)
	}
	got := filepath.Join(into, "report.pdf")
	if b, err := os.ReadFile(got); err != nil || string(b) != "second version" {
		t.Errorf("get into a folder: %q, %v", b, err)
	}
	if want := []string{"/2026/report.pdf -> " + got}; !slices.Equal(get.done, want) {
		t.Errorf("get reported %v, want %v", get.done, want)
	}
	old := filepath.Join(into, "old.pdf")
	if err := transfer.Get(ctx, v, "/2026/report.pdf", old, transfer.GetOptions{At: before}, &recorder{}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(old); err != nil || !bytes.Equal(b, content) {
		t.Errorf("get --at: %d bytes, %v; want the first version", len(b), err)
	}
	if err := transfer.Get(ctx, v, "/missing", into, transfer.GetOptions{}, &recorder{}); err == nil {
		t.Error("get of a missing path succeeded")
	}
	// The vault side lacks something, not the local file (issue 12).
	if err := transfer.Put(ctx, v, local, "/2027/report.pdf", &recorder{}); !errors.Is(err, transfer.ErrNoVaultFolder) || !strings.HasPrefix(err.Error(), "/2027: ") || strings.Contains(err.Error(), local) {
		t.Errorf("put into a missing folder: %v, want ErrNoVaultFolder naming /2027, not the local file", err)
	}
}
