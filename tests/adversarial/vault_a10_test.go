package adversarial

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/wire"
	"github.com/coffre/coffre/workspace"
)

// blockWorld is a vault in which alice stored a file of at least three
// blocks (/big.bin) and a small one (/small.txt), and bob, a reader, who
// downloaded nothing yet.
func blockWorld(t *testing.T) (w *world, big, small []byte, blocks, smallBlocks []workspace.Block) {
	t.Helper()
	w = newWorld(t, "blocks", member{"bob", certificate.ProfileStandard, certificate.RoleReader})
	av := w.open(t, "alice")
	big = w.content(t, 3)
	small = []byte("a small file, one block")
	put(t, av, "/big.bin", big)
	put(t, av, "/small.txt", small)
	blocks, smallBlocks = fileBlocks(t, av, "/big.bin"), fileBlocks(t, av, "/small.txt")
	if len(blocks) < 3 || len(smallBlocks) != 1 {
		t.Fatalf("%d and %d blocks", len(blocks), len(smallBlocks))
	}
	return w, big, small, blocks, smallBlocks
}

// forgetCache deletes a device's local block cache, so that the next
// download asks the server again.
func (w *world) forgetCache(t *testing.T, name string) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(w.dir[name], "cache")); err != nil {
		t.Fatal(err)
	}
}

// TestA10BlockTamperingRefused: the server (on its disk, or in its
// answers) flips a byte of a block, truncates, empties or extends it,
// reorders a file's blocks, duplicates one, or serves another file's block
// in its place. Each is refused with workspace.ErrBadBlock (AEAD under the
// block's own key and associated data, then size and digest from the
// signed manifest): no destination file appears, no temporary file is
// left, an existing local copy is untouched (SECURITY.md A9, A10; SPEC.md
// §11.3, §11.6 Get).
func TestA10BlockTamperingRefused(t *testing.T) {
	t.Parallel()
	w, big, small, blocks, smallBlocks := blockWorld(t)
	bv := w.open(t, "bob")
	stored := func(b workspace.Block) []byte { return w.s.Block(t, w.org, w.vault, b.ID) }
	b0, b1, b2 := stored(blocks[0]), stored(blocks[1]), stored(blocks[2])
	restore := func() {
		w.s.ClearHooks()
		w.s.WriteBlock(t, w.org, w.vault, blocks[0].ID, b0)
		w.s.WriteBlock(t, w.org, w.vault, blocks[1].ID, b1)
		w.s.WriteBlock(t, w.org, w.vault, blocks[2].ID, b2)
		// A refused block may sit in Bob's cache (see
		// TestA10TamperedBlockNotCached): start each case afresh.
		w.forgetCache(t, "bob")
	}
	flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[i] ^= 0x01; return b }
	onDisk := map[string]func(){
		"a byte flipped in the middle": func() { w.s.WriteBlock(t, w.org, w.vault, blocks[1].ID, flip(b1, len(b1)/2)) },
		"a byte flipped in the nonce":  func() { w.s.WriteBlock(t, w.org, w.vault, blocks[1].ID, flip(b1, 5)) },
		"a byte flipped in the tag":    func() { w.s.WriteBlock(t, w.org, w.vault, blocks[2].ID, flip(b2, len(b2)-1)) },
		"truncated by one byte":        func() { w.s.WriteBlock(t, w.org, w.vault, blocks[0].ID, b0[:len(b0)-1]) },
		"truncated by half":            func() { w.s.WriteBlock(t, w.org, w.vault, blocks[2].ID, b2[:len(b2)/2]) },
		"emptied":                      func() { w.s.WriteBlock(t, w.org, w.vault, blocks[1].ID, nil) },
		"extended by one byte":         func() { w.s.WriteBlock(t, w.org, w.vault, blocks[0].ID, append(bytes.Clone(b0), 0)) },
		"extended by the next block":   func() { w.s.WriteBlock(t, w.org, w.vault, blocks[0].ID, append(bytes.Clone(b0), b1...)) },
		"two blocks swapped": func() {
			w.s.WriteBlock(t, w.org, w.vault, blocks[0].ID, b1)
			w.s.WriteBlock(t, w.org, w.vault, blocks[1].ID, b0)
		},
		"three blocks rotated": func() {
			w.s.WriteBlock(t, w.org, w.vault, blocks[0].ID, b1)
			w.s.WriteBlock(t, w.org, w.vault, blocks[1].ID, b2)
			w.s.WriteBlock(t, w.org, w.vault, blocks[2].ID, b0)
		},
		"a block duplicated": func() { w.s.WriteBlock(t, w.org, w.vault, blocks[2].ID, b1) },
		"another file's block": func() {
			w.s.WriteBlock(t, w.org, w.vault, blocks[1].ID, w.s.Block(t, w.org, w.vault, smallBlocks[0].ID))
		},
	}
	inAnswer := map[string]func([]byte) []byte{
		"a byte flipped in the answer": func(b []byte) []byte { return flip(b, len(b)/3) },
		"an answer cut short":          func(b []byte) []byte { return b[:len(b)-100] },
		"an answer extended":           func(b []byte) []byte { return append(b, 1, 2, 3) },
		"an empty answer":              func([]byte) []byte { return nil },
	}
	for name, tamper := range onDisk {
		t.Run(name, func(t *testing.T) {
			defer restore()
			tamper()
			getRefused(t, bv, "/big.bin", workspace.ErrBadBlock)
		})
	}
	for name, tamper := range inAnswer {
		t.Run(name, func(t *testing.T) {
			defer restore()
			w.s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
				if r, ok := resp.(*coffrev1.GetBlockResponse); ok && err == nil && req.(*coffrev1.GetBlockRequest).GetBlockId() == blocks[1].ID {
					r.Data = tamper(r.Data)
				}
				return resp, err
			})
			getRefused(t, bv, "/big.bin", workspace.ErrBadBlock)
		})
	}

	// A local copy already at the destination stays as it was.
	t.Run("existing local copy kept", func(t *testing.T) {
		defer restore()
		dir := t.TempDir()
		dest := filepath.Join(dir, "big.bin")
		mine := []byte("my local copy, which a failed download must not touch")
		if err := os.WriteFile(dest, mine, 0o600); err != nil {
			t.Fatal(err)
		}
		w.s.WriteBlock(t, w.org, w.vault, blocks[2].ID, flip(b2, 100))
		// Asked to replace it (get --force), and the download fails.
		_, err := bv.GetReplace(bg(), "/big.bin", time.Time{}, dest, nil)
		wantErr(t, err, workspace.ErrBadBlock)
		if got, _ := os.ReadFile(dest); !bytes.Equal(got, mine) {
			t.Fatal("a refused download changed the existing local copy")
		}
		if left, _ := os.ReadDir(dir); len(left) != 1 {
			t.Fatalf("%d files beside the destination, want only it", len(left))
		}
	})

	// A missing block is an error too, and leaves nothing.
	t.Run("a block missing", func(t *testing.T) {
		defer restore()
		w.s.RemoveBlock(t, w.org, w.vault, blocks[1].ID)
		getRefused(t, bv, "/big.bin", wire.ErrNotFound)
	})

	// Control: the untouched blocks give the file back, byte for byte.
	if !bytes.Equal(get(t, bv, "/big.bin"), big) || !bytes.Equal(get(t, bv, "/small.txt"), small) {
		t.Fatal("the restored blocks do not give the files back")
	}
}

// TestA10TamperedBlockNotCached: a block the server tampered with is not
// kept in the device's local block cache (SECURITY.md: no tampered data
// handed to "the local cache"), so that once the server serves the right
// bytes again the file downloads; and a block that fails its manifest is
// never served from the cache again.
func TestA10TamperedBlockNotCached(t *testing.T) {
	t.Parallel()
	w, big, _, blocks, _ := blockWorld(t)
	bv := w.open(t, "bob")
	good := w.s.Block(t, w.org, w.vault, blocks[1].ID)
	bad := bytes.Clone(good)
	bad[len(bad)/2] ^= 1
	w.s.WriteBlock(t, w.org, w.vault, blocks[1].ID, bad)
	getRefused(t, bv, "/big.bin", workspace.ErrBadBlock)

	cached := filepath.Join(w.dir["bob"], "cache", "blocks", w.vault, blocks[1].ID[:2], blocks[1].ID)
	if _, err := os.Stat(cached); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused block is in the local cache (%v)", err)
	}
	// The server serves the right bytes again: the file downloads.
	w.s.WriteBlock(t, w.org, w.vault, blocks[1].ID, good)
	dest := filepath.Join(t.TempDir(), "big.bin")
	if _, err := bv.Get(bg(), "/big.bin", time.Time{}, dest, nil); err != nil {
		t.Fatalf("after the server repaired the block: %v", err)
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, big) {
		t.Fatal("wrong content")
	}
}
