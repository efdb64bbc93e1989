package adversarial

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
	"testing/iotest"

	"github.com/coffre/coffre/certificate"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/tests/hostile"
	"github.com/coffre/coffre/workspace"
)

// TestPutOfASmallFileIsThreeCalls: a device that is up to date puts a new
// small file with one VaultRead (the sync before the upload, which brings
// the server's signed heads, §4.4), one PutBlock and one VaultAppend: no
// GetHead, no second sync before its first try, and its own entry is not
// read back (SPEC.md §11.5). Under many clients each call was a queue to
// wait in.
func TestPutOfASmallFileIsThreeCalls(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "calls", member{"bob", certificate.ProfileStandard, certificate.RoleContributor})
	av := w.open(t, "alice")
	put(t, av, "/first.txt", []byte("the organisation log is synced by now"))
	var v workspace.Version
	got := w.methodsOf(t, func() (err error) {
		v, err = av.Put(bg(), "/second.txt", bytes.NewReader([]byte("three calls")), nil)
		return err
	})
	want := []string{
		coffrev1.CoffreService_VaultRead_FullMethodName,
		coffrev1.CoffreService_PutBlock_FullMethodName,
		coffrev1.CoffreService_VaultAppend_FullMethodName,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("a put made the calls %v, want %v", got, want)
	}
	// The entry it kept without reading it back is the server's.
	if latest, ok := av.Log().Latest(v.Manifest.ID); !ok || latest.Version != v.Version {
		t.Fatalf("the put's version %d is not the vault's newest (%v, %v)", v.Version, latest.Version, ok)
	}
	if head := w.s.VaultHead(t, w.org, w.vault); !sameHead(head, av.Log().Head) {
		t.Fatalf("the server's vault head %d is not the writer's %d", head.Position, av.Log().Head.Position)
	}
	bv := w.open(t, "bob")
	if got := get(t, bv, "/second.txt"); string(got) != "three calls" {
		t.Fatalf("bob reads %q", got)
	}
}

// TestInterruptedPutResumes: a put that fails part way (its file can't be
// read to the end) records every block it sent in the upload journal,
// although it records them in groups (workspace.journalBlocks), so the
// next put of the same path sends only the blocks the first did not
// (SPEC.md §11.6 "Resuming").
func TestInterruptedPutResumes(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "resume")
	av := w.open(t, "alice")
	content := w.content(t, 6)
	sent := func(calls []hostile.Call) map[string]bool {
		ids := map[string]bool{}
		for _, c := range calls {
			if r, ok := c.Request.(*coffrev1.PutBlockRequest); ok && c.Err == nil {
				ids[r.GetBlockId()] = true
			}
		}
		return ids
	}
	rec := w.s.Record()
	broken := io.MultiReader(bytes.NewReader(content[:len(content)-1]), iotest.ErrReader(errors.New("the disk went away")))
	if _, err := av.Put(bg(), "/big.bin", broken, nil); err == nil {
		t.Fatal("a put whose file could not be read to the end succeeded")
	}
	first := sent(rec.Calls())
	w.s.StopRecording()
	if len(first) < 2 {
		t.Fatalf("the failed put sent %d blocks, want several", len(first))
	}
	rec = w.s.Record()
	v, err := av.Put(bg(), "/big.bin", bytes.NewReader(content), nil)
	second := sent(rec.Calls())
	w.s.StopRecording()
	if err != nil {
		t.Fatal(err)
	}
	for id := range second {
		if first[id] {
			t.Errorf("block %s was sent by both puts", id)
		}
	}
	reused := 0
	for _, b := range v.Manifest.Blocks {
		if first[b.ID] {
			reused++
		}
	}
	if reused != len(first) || len(second) != len(v.Manifest.Blocks)-len(first) {
		t.Fatalf("the file has %d blocks: the failed put sent %d, the second reuses %d of them and sends %d; want every block sent once", len(v.Manifest.Blocks), len(first), reused, len(second))
	}
	if got := get(t, av, "/big.bin"); !bytes.Equal(got, content) {
		t.Fatal("the resumed file reads back other bytes")
	}
}
