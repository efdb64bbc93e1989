package adversarial

import (
	"context"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/wire"
	"google.golang.org/protobuf/proto"
)

// TestA59BatchWithOneBadBlockStoresNothing: a PutBlocks request's
// signature covers each block's SHA-256 (data_digest), not its bytes
// (SPEC.md §6.1, §6.2); the server checks every block's bytes against its
// digest before it stores any, and refuses the whole batch if one doesn't
// match: neither the bad block nor the good ones beside it are stored,
// whether the bytes were swapped in flight under a genuine signature or
// the device signed a digest of other bytes (SECURITY.md A59).
func TestA59BatchWithOneBadBlockStoresNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "radiology")
	alice := w.dev["alice"]
	const method = coffrev1.CoffreService_PutBlocks_FullMethodName

	signedReq := &coffrev1.PutBlocksRequest{VaultId: w.vault}
	for range 4 {
		signedReq.Blocks = append(signedReq.Blocks, &coffrev1.BlockData{BlockId: certificate.NewID(), Data: crypto.RandomBytes(4096)})
	}
	ctx, err := wire.SignOutgoing(context.Background(), alice.SigningKey, method, alice.OrganisationID, alice.DeviceID, time.Now(), crypto.RandomBytes(wire.NonceSize), signedReq)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range signedReq.Blocks {
		if len(b.GetDataDigest()) != 32 {
			t.Fatalf("signing did not set block %d's data digest (%d bytes)", i, len(b.GetDataDigest()))
		}
	}

	// 1. Signed over genuine bytes, sent with one block's bytes swapped
	// for others of the same size (what someone between the device and
	// the server could do).
	inFlight := proto.Clone(signedReq).(*coffrev1.PutBlocksRequest)
	inFlight.Blocks[2].Data = crypto.RandomBytes(4096)
	unsigned := w.s.Dial(t, nil)
	if _, err := unsigned.PutBlocks(ctx, inFlight); wire.FromStatus(err) != wire.ErrUnauthenticated {
		t.Errorf("one block's bytes swapped under a genuine signature: the server answered %v, want %v", err, wire.ErrUnauthenticated)
	}

	// 2. The device's own signature over a batch whose last block's
	// digest names other bytes.
	raw := w.s.Dial(t, alice.Signer())
	lying := &coffrev1.PutBlocksRequest{VaultId: w.vault}
	for range 3 {
		lying.Blocks = append(lying.Blocks, &coffrev1.BlockData{BlockId: certificate.NewID(), Data: crypto.RandomBytes(4096)})
	}
	wire.SetDataDigest(lying)
	other := crypto.Sum(crypto.RandomBytes(4096))
	lying.Blocks[2].DataDigest = other[:]
	if _, err := raw.PutBlocks(bg(), lying); wire.FromStatus(err) != wire.ErrUnauthenticated {
		t.Errorf("a batch with one digest of other bytes: the server answered %v, want %v", err, wire.ErrUnauthenticated)
	}
	if blocks := w.blockSet(t); len(blocks) != 0 {
		t.Fatalf("the server stored %d blocks of refused batches", len(blocks))
	}

	// The same batch with matching bytes goes through: the refusals were
	// for the mismatch only.
	if _, err := unsigned.PutBlocks(ctx, signedReq); err != nil {
		t.Fatalf("the genuine batch: %v", err)
	}
	blocks := w.blockSet(t)
	for _, b := range signedReq.Blocks {
		if !blocks[b.BlockId] {
			t.Fatalf("after the genuine batch the server holds %v, not block %s", blocks, b.BlockId)
		}
	}
	if len(blocks) != len(signedReq.Blocks) {
		t.Fatalf("after the genuine batch the server holds %d blocks, want %d", len(blocks), len(signedReq.Blocks))
	}
}
