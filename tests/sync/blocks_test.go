package synctest

import (
	"os"
	"path/filepath"
	"testing"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// TestSmallEditUploadsFewBlocks: a 20 MiB file is synced; 10 bytes change
// in its middle; the next cycle stores at most 2 new blocks on the server
// (content-defined chunking: the blocks around the edit only), and the
// other device fetches at most 2 blocks to get the new version, which is
// byte-identical.
func TestSmallEditUploadsFewBlocks(t *testing.T) {
	t.Parallel()
	w, a, b := twoDevices(t)
	s := w.hs
	big := filepath.Join(a.dir, "scan.tiff")
	writeRandomFile(t, big, 20<<20, 42)
	mustConverge(t, a, b)
	blocks := len(s.AllBlocks(t))
	_, v := w.remoteTree(t)
	ver, err := v.Stat("/scan.tiff", timeZero)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("20 MiB file: %d blocks in its manifest, %d block files on the server", len(ver.Manifest.Blocks), blocks)

	f, err := os.OpenFile(big, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("0123456789"), 10<<20+777); err != nil {
		t.Fatal(err)
	}
	f.Close()
	rec := s.Record()
	res := a.mustCycle(t)
	putBlocks := count(rec.Calls(), coffrev1.CoffreService_PutBlock_FullMethodName)
	s.StopRecording()
	added := len(s.AllBlocks(t)) - blocks
	t.Logf("10-byte edit: uploaded %d file(s), %d PutBlock calls, %d new block files on the server", res.Uploaded, putBlocks, added)
	if res.Uploaded != 1 {
		t.Errorf("alice's cycle uploaded %d files, want 1", res.Uploaded)
	}
	if added > 2 || putBlocks > 2 {
		t.Errorf("a 10-byte edit stored %d new blocks (%d PutBlock calls), want at most 2", added, putBlocks)
	}

	rec = s.Record()
	res = b.mustCycle(t)
	getBlocks := count(rec.Calls(), coffrev1.CoffreService_GetBlock_FullMethodName)
	s.StopRecording()
	t.Logf("bob: downloaded %d file(s) with %d GetBlock calls", res.Downloaded, getBlocks)
	if res.Downloaded != 1 || getBlocks > 2 {
		t.Errorf("bob's cycle downloaded %d files with %d GetBlock calls, want 1 file and at most 2 blocks", res.Downloaded, getBlocks)
	}
	sameTrees(t, a, b)
}

func count(calls []hostileCall, method string) int {
	n := 0
	for _, c := range calls {
		if c.Method == method && c.Err == nil {
			n++
		}
	}
	return n
}
