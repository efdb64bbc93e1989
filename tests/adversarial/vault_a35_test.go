package adversarial

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/workspace"
)

// blockOverhead is what encryption adds to a block (SPEC.md §2.4).
const blockOverhead = 42

// TestA35StoredBlockSizesAreBuckets: after files of many sizes are put,
// every block the server stores (read from its store, not from the
// client) is a padded bucket plus the encryption overhead, never a
// plaintext size: every file of up to 4 KiB stores the same 4 KiB block,
// and the sizes the server holds are far fewer than the sizes written.
// Bob reads every file back exactly (SECURITY.md A35, SPEC.md §11.3).
func TestA35StoredBlockSizesAreBuckets(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a35 sizes", member{"bob", certificate.ProfileStandard, certificate.RoleReader})
	av := w.open(t, "alice")
	sizes := []int{1, 2, 100, 1000, 4000, 4095, 4096, 4097, 5000, 70001, 300001, 1<<20 + 7}
	files := map[string][]byte{}
	for _, n := range sizes {
		p := fmt.Sprintf("/f%d.bin", n)
		files[p] = crypto.RandomBytes(n)
		put(t, av, p, files[p])
	}
	files["/multi.bin"] = w.content(t, 3)
	put(t, av, "/multi.bin", files["/multi.bin"])

	small := map[string]bool{}
	for _, n := range []int{1, 2, 100, 1000, 4000, 4095, 4096} {
		for _, b := range fileBlocks(t, av, fmt.Sprintf("/f%d.bin", n)) {
			small[b.ID] = true
		}
	}
	stored := w.s.Blocks(t, w.org, w.vault)
	if len(stored) < len(sizes)+3 {
		t.Fatalf("%d blocks stored", len(stored))
	}
	seen := map[int]bool{}
	plainSizes := map[uint64]bool{}
	for p := range files {
		for _, b := range fileBlocks(t, av, p) {
			plainSizes[b.Size] = true
		}
	}
	for id, data := range stored {
		n := len(data) - blockOverhead
		seen[len(data)] = true
		if n < 4096 || workspace.PaddedSize(uint64(n)) != uint64(n) {
			t.Errorf("block %s: %d bytes stored, not a bucket (%d) plus %d", id, len(data), workspace.PaddedSize(uint64(n)), blockOverhead)
		}
		if small[id] && len(data) != 4096+blockOverhead {
			t.Errorf("block %s of a file of at most 4 KiB: %d bytes stored, want %d", id, len(data), 4096+blockOverhead)
		}
	}
	if len(seen) >= len(plainSizes) {
		t.Errorf("%d stored sizes for %d plaintext sizes: padding hides nothing", len(seen), len(plainSizes))
	}
	t.Logf("%d blocks, %d plaintext sizes, %d stored sizes", len(stored), len(plainSizes), len(seen))

	bv := w.open(t, "bob")
	for p, want := range files {
		if !bytes.Equal(get(t, bv, p), want) {
			t.Fatalf("%s does not read back", p)
		}
	}
}

// TestA35ChunkingAfterRotation: bob, a contributor, is removed (the
// unshare rotates the key). Content he may know is then put by alice: it
// is cut at other places than before the rotation, and at none bob can
// predict with the chunking secret of any key he held, so the server and
// bob together can't confirm a guess from block sizes. A new member who
// joins later reads it (SECURITY.md A35, SPEC.md §11.3).
func TestA35ChunkingAfterRotation(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a35 chunking",
		member{"bob", certificate.ProfileStandard, certificate.RoleContributor},
		member{"carol", certificate.ProfileStandard, certificate.RoleNone})
	content := w.content(t, 4)
	av := w.open(t, "alice")
	put(t, av, "/before.bin", content)
	before := blockSizes(fileBlocks(t, av, "/before.bin"))

	bobKeys := w.keys(t, "bob")
	bobIndex, _ := bobKeys.Newest()
	if err := w.sess["alice"].UnshareVault(bg(), w.vault, "bob@example.org"); err != nil {
		t.Fatal(err)
	}
	av = w.open(t, "alice")
	if index, _ := w.keys(t, "alice").Newest(); index <= bobIndex {
		t.Fatalf("the unshare left the vault at key %d", index)
	}
	put(t, av, "/after.bin", content)
	after := blockSizes(fileBlocks(t, av, "/after.bin"))
	if slices.Equal(before, after) {
		t.Fatalf("the same content is cut at the same places after the rotation: %v", after)
	}
	for i := uint32(1); i <= bobIndex; i++ {
		k, _ := bobKeys.Get(i)
		if predicted := chunkSizes(t, workspace.ChunkingSecret(k), content); slices.Equal(predicted, after) {
			t.Fatalf("bob predicts the boundaries after his removal with key %d's secret: %v", i, after)
		}
	}

	if _, err := w.sess["alice"].ShareVault(bg(), w.vault, "carol@example.org", certificate.RoleReader, time.Time{}); err != nil {
		t.Fatal(err)
	}
	cv := w.open(t, "carol")
	for _, p := range []string{"/before.bin", "/after.bin"} {
		if !bytes.Equal(get(t, cv, p), content) {
			t.Fatalf("%s does not read back", p)
		}
	}
}

func blockSizes(blocks []workspace.Block) []uint64 {
	var out []uint64
	for _, b := range blocks {
		out = append(out, b.Size)
	}
	return out
}

func chunkSizes(t *testing.T, secret, data []byte) []uint64 {
	t.Helper()
	c := workspace.NewChunker(secret, bytes.NewReader(data))
	var out []uint64
	for {
		chunk, err := c.Next()
		if err != nil {
			return out
		}
		out = append(out, uint64(len(chunk)))
	}
}
