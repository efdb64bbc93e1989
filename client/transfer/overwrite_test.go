package transfer_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffre/coffre/client/transfer"
	"github.com/coffre/coffre/workspace"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestGetNeverReplacesUnasked: a get over a local file, or a folder get
// over a local folder holding one of its files, is refused before anything
// is written; with Replace the file is replaced and nothing else is
// touched, and no temporary file is left.
func TestGetNeverReplacesUnasked(t *testing.T) {
	v := vault(t)
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "scans")
	write(t, filepath.Join(src, "a.txt"), "vault a")
	write(t, filepath.Join(src, "sub", "b.txt"), "vault b")
	if err := transfer.Put(ctx, v, src, "/scans", &recorder{}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	mine := filepath.Join(dir, "a.txt")
	write(t, mine, "my own notes")
	err := transfer.Get(ctx, v, "/scans/a.txt", mine, transfer.GetOptions{}, &recorder{})
	if !errors.Is(err, workspace.ErrLocalExists) || !strings.Contains(err.Error(), mine) {
		t.Fatalf("get over a local file: %v, want ErrLocalExists naming it", err)
	}
	// Into the folder, under its own name: the same file is in the way.
	if err := transfer.Get(ctx, v, "/scans/a.txt", dir, transfer.GetOptions{}, &recorder{}); !errors.Is(err, workspace.ErrLocalExists) {
		t.Fatalf("get into a folder holding the name: %v, want ErrLocalExists", err)
	}
	if got := read(t, mine); got != "my own notes" {
		t.Fatalf("the local file became %q", got)
	}

	// A folder get over a folder that holds one of its files: nothing is
	// written, not even the files that are not in the way.
	local := filepath.Join(t.TempDir(), "scans")
	write(t, filepath.Join(local, "sub", "b.txt"), "my b")
	write(t, filepath.Join(local, "keep.txt"), "only here")
	var rec recorder
	err = transfer.Get(ctx, v, "/scans", local, transfer.GetOptions{}, &rec)
	if !errors.Is(err, workspace.ErrLocalExists) {
		t.Fatalf("folder get over a folder: %v, want ErrLocalExists", err)
	}
	if _, err := os.Stat(filepath.Join(local, "a.txt")); !errors.Is(err, os.ErrNotExist) || len(rec.done) != 0 {
		t.Fatalf("a refused folder get wrote %v (a.txt: %v)", rec.done, err)
	}

	// Replace: the vault's files replace those in the way, the others stay.
	if err := transfer.Get(ctx, v, "/scans", local, transfer.GetOptions{Replace: true}, &recorder{}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{"a.txt": "vault a", "sub/b.txt": "vault b", "keep.txt": "only here"} {
		if got := read(t, filepath.Join(local, p)); got != want {
			t.Errorf("%s after a replacing get: %q, want %q", p, got, want)
		}
	}
	if err := transfer.Get(ctx, v, "/scans/a.txt", mine, transfer.GetOptions{Replace: true}, &recorder{}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, mine); got != "vault a" {
		t.Errorf("replaced file: %q", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left beside the replaced file: %v", entries)
	}

	// A local file where the vault has a folder is refused even with Replace.
	clash := filepath.Join(t.TempDir(), "scans")
	write(t, filepath.Join(clash, "sub"), "a file, not a folder")
	if err := transfer.Get(ctx, v, "/scans", clash, transfer.GetOptions{Replace: true}, &recorder{}); !errors.Is(err, workspace.ErrNotFolder) {
		t.Fatalf("a file where the vault has a folder: %v, want ErrNotFolder", err)
	}
}
