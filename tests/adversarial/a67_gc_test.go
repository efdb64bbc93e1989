package adversarial

import (
	"bytes"
	"testing"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// TestA67DeclarationsCoverOnlyTheirOwnVault: the server can't read
// manifests, so which blocks an entry references is the writer's word
// (VaultAppendRequest.block_ids, SPEC.md §7.5), and a member may lie.
// The lie reaches no further than the liar's own entry: declarations only
// ever add references, each in its own vault, so a member who declares
// nothing for a new version of a file can't expose the blocks of the
// versions before it, and one who declares another vault's block ids
// neither protects nor exposes anything there. A vault with an entry that
// declared nothing (an older client) is never collected: its blocks are
// unknown (SECURITY.md A67). On every backend.
func TestA67DeclarationsCoverOnlyTheirOwnVault(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "lab", member{"mallory", certificate.ProfileStandard, certificate.RoleContributor})
	alice := w.open(t, "alice")
	first := w.content(t, 3)
	put(t, alice, "f.bin", first)
	aliceBlocks := w.blockSet(t)

	// A vault mallory is not a member of, with a file and an upload whose
	// commit never came.
	info, err := w.sess["alice"].CreateVault(bg(), "private")
	if err != nil {
		t.Fatal(err)
	}
	private := w.openID(t, "alice", info.ID)
	secret := w.content(t, 2)
	put(t, private, "g.bin", secret)
	privateBlocks := w.s.Blocks(t, w.org, info.ID)
	orphan := certificate.NewID()
	raw := w.s.Dial(t, w.dev["alice"].Signer())
	_, err = raw.PutBlocks(bg(), &coffrev1.PutBlocksRequest{VaultId: info.ID,
		Blocks: []*coffrev1.BlockData{{BlockId: orphan, Data: crypto.RandomBytes(4096)}}})
	if err != nil {
		t.Fatal(err)
	}
	var privateIDs []string
	for id := range privateBlocks {
		privateIDs = append(privateIDs, id)
	}

	// Mallory's client writes a new version of f.bin and declares none of
	// its blocks, but the private vault's ids instead (the request as her
	// modified client signs it; here rewritten after authentication).
	w.s.RewriteRequest(func(method string, req any) any {
		if r, ok := req.(*coffrev1.VaultAppendRequest); ok {
			r.BlockIds, r.BlocksDeclared = append(privateIDs, orphan), true
		}
		return req
	})
	mallory := w.open(t, "mallory")
	put(t, mallory, "f.bin", w.content(t, 2))
	w.s.RewriteRequest(nil)

	col := w.s.CollectBlocks(t, afterGrace, false)
	got := w.blockSet(t)
	for id := range aliceBlocks {
		if !got[id] {
			t.Fatalf("alice's version of f.bin lost block %s: a later version that declared nothing unreferenced it", id)
		}
	}
	if len(got) != len(aliceBlocks) {
		t.Fatalf("the vault holds %d blocks after the collection, want alice's %d (mallory's undeclared ones go)", len(got), len(aliceBlocks))
	}
	gotPrivate := w.s.Blocks(t, w.org, info.ID)
	for id := range privateBlocks {
		if gotPrivate[id] == nil {
			t.Fatalf("the private vault lost referenced block %s", id)
		}
	}
	if gotPrivate[orphan] != nil {
		t.Fatal("an unreferenced block of the private vault was kept because a member of another vault declared its id there")
	}
	if col.VaultsUndeclared != 0 {
		t.Fatalf("%d vaults counted undeclared, want none", col.VaultsUndeclared)
	}
	// History keeps alice's version, whole.
	alice = w.open(t, "alice")
	if err := alice.Restore(bg(), "f.bin", 1); err != nil {
		t.Fatalf("restoring alice's version: %v", err)
	}
	if !bytes.Equal(get(t, alice, "f.bin"), first) || !bytes.Equal(get(t, private, "g.bin"), secret) {
		t.Fatal("the files alice wrote do not read back after the collection")
	}

	// An older client's entry declares nothing at all: its blocks are
	// unknown, so the vault is never collected again.
	w.s.RewriteRequest(func(method string, req any) any {
		if r, ok := req.(*coffrev1.VaultAppendRequest); ok {
			r.BlockIds, r.BlocksDeclared = nil, false
		}
		return req
	})
	old := w.content(t, 2)
	put(t, mallory, "old.bin", old)
	w.s.RewriteRequest(nil)
	_, err = raw.PutBlocks(bg(), &coffrev1.PutBlocksRequest{VaultId: w.vault,
		Blocks: []*coffrev1.BlockData{{BlockId: certificate.NewID(), Data: crypto.RandomBytes(4096)}}})
	if err != nil {
		t.Fatal(err)
	}
	before := w.blockSet(t)
	col = w.s.CollectBlocks(t, 2*afterGrace, false)
	if col.VaultsUndeclared != 1 || col.Deleted != 0 {
		t.Fatalf("after an undeclared entry: %d vaults undeclared, %d blocks deleted; want 1 and none", col.VaultsUndeclared, col.Deleted)
	}
	if after := w.blockSet(t); len(after) != len(before) {
		t.Fatalf("a vault with an undeclared entry went from %d blocks to %d", len(before), len(after))
	}
	alice = w.open(t, "alice")
	if !bytes.Equal(get(t, alice, "old.bin"), old) {
		t.Fatal("the older client's file does not read back after a collection")
	}
}
