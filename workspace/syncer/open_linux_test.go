package syncer

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// openEngine returns an engine whose folder is dir, opened as a cycle
// opens it.
func openEngine(t *testing.T, dir string) *Engine {
	t.Helper()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	rootDir, err := root.Open(".")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rootDir.Close() })
	return &Engine{Dir: dir, root: root, rootDir: rootDir}
}

// TestOpenForUploadFollowsNoLink: the open of a file to upload reads the
// regular file the scan listed, and refuses (ErrLink), without reading
// anything, a link at the path (to a file inside the folder or outside),
// a path under a linked folder, and a FIFO (without waiting for a
// writer): a link or special file swapped in after the scan is never
// uploaded (SPEC.md §12, SECURITY.md A38).
func TestOpenForUploadFollowsNoLink(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "a.txt"), []byte("inside"), 0o600))
	must(os.Mkdir(filepath.Join(dir, "sub"), 0o700))
	must(os.WriteFile(filepath.Join(dir, "sub", "b.txt"), []byte("in sub"), 0o600))
	must(os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("outside"), 0o600))
	must(os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(dir, "out.txt")))
	must(os.Symlink("a.txt", filepath.Join(dir, "in.txt")))
	must(os.Symlink(outside, filepath.Join(dir, "linked")))
	must(syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	e := openEngine(t, dir)

	for p, want := range map[string]string{"a.txt": "inside", "sub/b.txt": "in sub"} {
		r, l, err := e.openRegular(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || string(got) != want || l.size != int64(len(want)) || l.folder || l.mtimeNs == 0 {
			t.Errorf("%s: read %q (%v), described %+v; want %q", p, got, err, l, want)
		}
	}
	for _, p := range []string{"out.txt", "in.txt", "linked/secret.txt", "fifo", "sub"} {
		r, _, err := e.openRegular(p)
		if err == nil {
			got, _ := io.ReadAll(r)
			r.Close()
			t.Errorf("%s opened for an upload (read %q), want ErrLink", p, got)
			continue
		}
		if !errors.Is(err, ErrLink) {
			t.Errorf("%s: %v, want ErrLink", p, err)
		}
	}
}
