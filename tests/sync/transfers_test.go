package synctest

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/wire"
	"github.com/coffre/coffre/workspace/syncer"
)

// failAfter makes the server refuse every call of method after the first n
// that succeed (a connection lost for good in the middle of a transfer, as
// the client sees it: an error that is not retried).
func failAfter(w *world, method string, n int64) {
	var ok atomic.Int64
	w.hs.RewriteUnary(func(m string, req, resp any, err error) (any, error) {
		if m == method && err == nil && ok.Add(1) > n {
			return nil, wire.ErrForbidden
		}
		return resp, err
	})
}

// TestTransfersResume: a large transfer interrupted after some blocks (the
// cycle fails) is resumed by the next cycle, which does not move again
// the blocks already moved. Downloads resume through the device's block
// cache. Uploads are checked too: the issue asks for resumable transfers.
func TestTransfersResume(t *testing.T) {
	t.Parallel()
	w, a, b := twoDevices(t)
	s := w.hs
	want := writeRandomFile(t, filepath.Join(a.dir, "video.mp4"), 24<<20, 7)

	const before = 8
	// Download first (needs the file in the vault).
	a.mustCycle(t)
	_, v := w.remoteTree(t)
	ver, err := v.Stat("/video.mp4", timeZero)
	if err != nil {
		t.Fatal(err)
	}
	total := len(ver.Manifest.Blocks)
	// The first block arrives at once, the next ones slowly, and the
	// first refusal comes while they are in flight: they must still be
	// kept for the next cycle, not dropped with the failed download.
	var served atomic.Int64
	s.RewriteUnary(func(m string, req, resp any, err error) (any, error) {
		if m != coffrev1.CoffreService_GetBlock_FullMethodName || err != nil {
			return resp, err
		}
		switch n := served.Add(1); {
		case n > before:
			return nil, wire.ErrForbidden
		case n > 1:
			time.Sleep(300 * time.Millisecond)
		}
		return resp, err
	})
	if _, err := b.cycle(); err == nil {
		t.Fatal("bob's cycle succeeded although the server stopped serving blocks")
	}
	s.ClearHooks()
	rec := s.Record()
	b.mustCycle(t)
	again := count(rec.Calls(), coffrev1.CoffreService_GetBlock_FullMethodName)
	s.StopRecording()
	t.Logf("download of %d blocks interrupted after %d: the next cycle fetched %d", total, before, again)
	if again > total-before { // the blocks in flight when it failed arrived too, and were kept
		t.Errorf("the resumed download fetched %d of %d blocks, %d had been fetched already", again, total, before)
	}
	if got := readTree(t, b.dir)["video.mp4"]; got.hash != want {
		t.Errorf("bob's video.mp4 is not alice's")
	}

	// Upload: a new version from bob, interrupted.
	want = writeRandomFile(t, filepath.Join(b.dir, "video.mp4"), 24<<20, 8)
	failAfter(w, coffrev1.CoffreService_PutBlock_FullMethodName, before)
	if _, err := b.cycle(); err == nil {
		t.Fatal("bob's cycle succeeded although the server stopped accepting blocks")
	}
	s.ClearHooks()
	rec = s.Record()
	res := b.mustCycle(t)
	again = count(rec.Calls(), coffrev1.CoffreService_PutBlock_FullMethodName)
	s.StopRecording()
	a.mustCycle(t)
	if got := readTree(t, a.dir)["video.mp4"]; got.hash != want {
		t.Errorf("alice's video.mp4 is not bob's new version")
	}
	if res.Uploaded != 1 {
		t.Errorf("bob's cycle uploaded %d files, want 1", res.Uploaded)
	}
	_, v = w.remoteTree(t)
	if ver, err = v.Stat("/video.mp4", timeZero); err != nil {
		t.Fatal(err)
	}
	total = len(ver.Manifest.Blocks)
	t.Logf("upload of %d blocks interrupted after %d: the next cycle sent %d", total, before, again)
	if again > total-before+4 {
		t.Fatalf("regression: uploads are not resumable: after an upload interrupted with %d of %d blocks "+
			"stored, the next cycle sent %d blocks again (the stored ones stay on the server, unreferenced). "+
			"workspace/vault.go Vault.upload gives every block a fresh random id and key and reuses only the "+
			"blocks of the version being replaced, so nothing of an unfinished upload is ever reused — after a "+
			"kill -9 or a lost connection (beyond the ~30 s retry) a large file is sent from the start. Fix: "+
			"journal the blocks of an upload in progress (path, size/mtime, block digest → id, key) and reuse "+
			"them in the next attempt, as a replaced version's blocks are reused", before, total, again)
	}
}

// TestIgnorePatterns: the ignore rules on names and paths, defaults and
// .coffreignore — including a folder pattern written "scratch/", the
// example `coffre sync --help` gives.
func TestIgnorePatterns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, &engineDev{dir: dir}, ".coffreignore", "# comment\n*.bak\nscratch/\nbuild\n/tmpdir\n")
	ig := syncer.LoadIgnore(dir)
	for p, want := range map[string]bool{
		"~$doc.docx": true, ".~lock.x.odt#": true, "a.swp": true, "sub/.a.swp": true, "x.tmp": true, "4913": true,
		"a~": true, ".#a": true, "#a#": true, ".DS_Store": true, "._x": true, "Thumbs.db": true, "desktop.ini": true,
		".coffreignore": true, ".a.coffre-download": true, ".a.coffre-123": true,
		"x.bak": true, "deep/x.bak": true, "build": true, "build/x.o": true, "tmpdir/y": true,
		"report.docx": false, "notes.txt": false, "backup/x.txt": false, "scratchpad.txt": false,
	} {
		if got := ig.Match(p); got != want {
			t.Errorf("ignore %q = %v, want %v", p, got, want)
		}
	}
	if !ig.Match("scratch") || !ig.Match("scratch/notes.txt") {
		t.Fatalf("regression: a .coffreignore line \"scratch/\" (the example of `coffre sync --help`) ignores nothing: " +
			"scratch/notes.txt is uploaded. workspace/syncer/ignore.go: LoadIgnore trims a leading '/' but keeps " +
			"the trailing one, and Ignore.Match compares \"scratch/\" with the name \"scratch\" and the path " +
			"\"scratch/notes.txt\", neither of which matches. Fix: in LoadIgnore, a pattern ending in '/' matches " +
			"folders (trim the slash and match it against folder names/paths, or simply trim it)")
	}
}

// TestLeftoverTemporariesRemoved: what an interrupted download left behind
// (".NAME.coffre-download", ".NAME.coffre-XXXX"), at the root and in a
// subfolder, is removed by the next cycle and never uploaded; the files
// beside it are synced.
func TestLeftoverTemporariesRemoved(t *testing.T) {
	t.Parallel()
	_, a, b := twoDevices(t)
	write(t, a, "a.txt", "a")
	write(t, a, ".a.txt.coffre-download", "half")
	write(t, a, "sub/b.txt", "b")
	write(t, a, "sub/.b.txt.coffre-123456", "half")
	a.mustCycle(t)
	if tmp := temporaries(readTree(t, a.dir)); len(tmp) > 0 {
		t.Errorf("temporaries left in alice's folder after a cycle: %v", tmp)
	}
	b.mustCycle(t)
	tree := readTree(t, b.dir)
	if tmp := temporaries(tree); len(tmp) > 0 {
		t.Errorf("temporaries uploaded to bob: %v", tmp)
	}
	for _, p := range []string{"a.txt", "sub/b.txt"} {
		if _, ok := tree[p]; !ok {
			t.Errorf("%s did not reach bob: %v", p, sortedKeys(tree))
		}
	}
}
