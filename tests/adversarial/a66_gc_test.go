package adversarial

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server"
	"github.com/coffre/coffre/workspace"
)

// afterGrace is a collection's clock past the grace period of every block
// uploaded so far.
const afterGrace = server.DefaultGCGrace + time.Hour

// TestA66CrashBetweenUploadAndCommit: block garbage collection (SPEC.md
// §7.5) deletes the blocks of uploads whose commit never came, and never a
// block a committed entry references. A device that uploaded blocks and
// crashed before committing, and a put whose commit the server refused,
// leave unreferenced blocks: they survive every collection within the
// grace period (and a restart of the server), and go at the first one
// after it, with their bytes given back to the quota. The blocks of the
// committed file stay, and it reads back whole. A commit that comes after
// a collection took its blocks is refused (it would reference blocks that
// are gone), and the client's next try uploads them again (SECURITY.md
// A66). On every backend: bbolt and a block directory, PostgreSQL and S3.
func TestA66CrashBetweenUploadAndCommit(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "records")
	v := w.open(t, "alice")
	kept := w.content(t, 3)
	put(t, v, "kept.bin", kept)
	referenced := w.blockSet(t)
	if len(referenced) < 3 {
		t.Fatalf("the committed file has %d blocks on the server, want at least 3", len(referenced))
	}

	// 1. Alice's device uploads two blocks and crashes before its commit.
	raw := w.s.Dial(t, w.dev["alice"].Signer())
	crashed := &coffrev1.PutBlocksRequest{VaultId: w.vault}
	for range 2 {
		crashed.Blocks = append(crashed.Blocks, &coffrev1.BlockData{BlockId: certificate.NewID(), Data: crypto.RandomBytes(8192)})
	}
	if _, err := raw.PutBlocks(bg(), crashed); err != nil {
		t.Fatalf("uploading the blocks of the crashed put: %v", err)
	}
	// 2. A put whose commit the server refuses (its entry arrives
	// damaged): the real client uploaded its blocks first.
	w.s.RewriteRequest(func(method string, req any) any {
		if r, ok := req.(*coffrev1.VaultAppendRequest); ok && method == coffrev1.CoffreService_VaultAppend_FullMethodName {
			r.Entry = []byte("damaged")
		}
		return req
	})
	if _, err := v.Put(bg(), "lost.bin", bytes.NewReader(w.content(t, 2)), nil); err == nil {
		t.Fatal("a put whose commit the server refused succeeded")
	}
	w.s.RewriteRequest(nil)
	all := w.blockSet(t)
	orphans := map[string]bool{}
	for id := range all {
		if !referenced[id] {
			orphans[id] = true
		}
	}
	if len(orphans) < 4 {
		t.Fatalf("after the two failed puts the server holds %d unreferenced blocks, want at least 4", len(orphans))
	}
	usedBefore := w.usedBytes(t)

	// Within the grace period nothing goes, before or after a restart.
	for _, later := range []time.Duration{0, server.DefaultGCGrace - time.Hour} {
		col := w.s.CollectBlocks(t, later, false)
		if col.Deleted != 0 {
			t.Fatalf("a collection %s after the uploads deleted %d blocks, within the grace period", later, col.Deleted)
		}
		w.s.Restart()
	}
	if got := w.blockSet(t); !maps.Equal(got, all) {
		t.Fatalf("collections within the grace period changed the blocks: %d, had %d", len(got), len(all))
	}

	// A dry run past it says what would go, and deletes nothing.
	col := w.s.CollectBlocks(t, afterGrace, true)
	if col.Deleted != len(orphans) || col.Referenced != len(referenced) {
		t.Fatalf("dry run: would delete %d and keep %d referenced, want %d and %d", col.Deleted, col.Referenced, len(orphans), len(referenced))
	}
	if got := w.blockSet(t); !maps.Equal(got, all) {
		t.Fatal("a dry run deleted blocks")
	}

	col = w.s.CollectBlocks(t, afterGrace, false)
	if col.Deleted != len(orphans) || col.Referenced != len(referenced) {
		t.Fatalf("collection: deleted %d and kept %d referenced, want %d and %d", col.Deleted, col.Referenced, len(orphans), len(referenced))
	}
	if got := w.blockSet(t); !maps.Equal(got, referenced) {
		t.Fatalf("after the collection the server holds %v, want exactly the committed file's blocks %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(referenced)))
	}
	if got := w.usedBytes(t); got != usedBefore-col.DeletedBytes || col.DeletedBytes <= 0 {
		t.Fatalf("the organisation uses %d bytes after freeing %d, had %d", got, col.DeletedBytes, usedBefore)
	}
	if !bytes.Equal(get(t, v, "kept.bin"), kept) {
		t.Fatal("the committed file does not read back after the collection")
	}
	// Again, later: a referenced block is never collected.
	if col := w.s.CollectBlocks(t, 10*afterGrace, false); col.Deleted != 0 {
		t.Fatalf("a later collection deleted %d referenced blocks", col.Deleted)
	}

	// 3. A commit that comes after a collection took its blocks (a put
	// slower than the grace period) is refused, not committed without
	// them; the next try sends its blocks again.
	late := w.content(t, 2)
	w.s.RewriteRequest(func(method string, req any) any {
		if method == coffrev1.CoffreService_VaultAppend_FullMethodName {
			w.s.RewriteRequest(nil)
			w.s.CollectBlocks(t, afterGrace, false)
		}
		return req
	})
	_, err := v.Put(bg(), "late.bin", bytes.NewReader(late), nil)
	if !errors.Is(err, workspace.ErrBlockCollected) {
		t.Fatalf("a commit after its blocks were collected: %v, want %v", err, workspace.ErrBlockCollected)
	}
	if _, err := v.Stat("late.bin", time.Time{}); err == nil {
		t.Fatal("the refused commit left late.bin in the vault")
	}
	put(t, v, "late.bin", late)
	if !bytes.Equal(get(t, v, "late.bin"), late) || !bytes.Equal(get(t, v, "kept.bin"), kept) {
		t.Fatal("the files do not read back after the retried put")
	}
	if col := w.s.CollectBlocks(t, afterGrace, false); col.Deleted != 0 {
		t.Fatalf("a collection after the retried put deleted %d of its blocks", col.Deleted)
	}
	if !bytes.Equal(get(t, v, "late.bin"), late) {
		t.Fatal("the retried put does not read back after another collection")
	}
}

// usedBytes is the storage the server counts for the world's
// organisation.
func (w *world) usedBytes(t *testing.T) int64 {
	t.Helper()
	org, err := w.s.Store().Organisation(bg(), w.org)
	if err != nil {
		t.Fatal(err)
	}
	return org.UsedBytes
}
