package adversarial

import (
	"context"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/wire"
)

// TestA58BlockBytesMustMatchTheSignedDigest: a PutBlock's request
// signature covers the SHA-256 of its data (data_digest), not the data
// itself (SPEC.md §6.1); the server refuses a block whose bytes don't
// match the signed digest, and stores nothing: whether the bytes were
// swapped in flight under a genuine signature or the digest names other
// bytes (SECURITY.md A58).
func TestA58BlockBytesMustMatchTheSignedDigest(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "radiology")
	alice := w.dev["alice"]
	const method = coffrev1.CoffreService_PutBlock_FullMethodName
	genuine, swapped := crypto.RandomBytes(4096), crypto.RandomBytes(4096)

	// 1. Signed over genuine bytes, sent with other bytes of the same size
	// (what someone between the device and the server could do).
	signedReq := &coffrev1.PutBlockRequest{VaultId: w.vault, BlockId: certificate.NewID(), Data: genuine}
	ctx, err := wire.SignOutgoing(context.Background(), alice.SigningKey, method, alice.OrganisationID, alice.DeviceID, time.Now(), crypto.RandomBytes(wire.NonceSize), signedReq)
	if err != nil {
		t.Fatal(err)
	}
	if len(signedReq.GetDataDigest()) != 32 {
		t.Fatalf("signing did not set the data digest (%d bytes)", len(signedReq.GetDataDigest()))
	}
	inFlight := &coffrev1.PutBlockRequest{VaultId: signedReq.VaultId, BlockId: signedReq.BlockId, Data: swapped, DataDigest: signedReq.DataDigest}
	unsigned := w.s.Dial(t, nil)
	if _, err := unsigned.PutBlock(ctx, inFlight); wire.FromStatus(err) != wire.ErrUnauthenticated {
		t.Errorf("bytes swapped under a genuine signature: the server answered %v, want %v", err, wire.ErrUnauthenticated)
	}

	// 2. The device's own signature over a digest of other bytes.
	raw := w.s.Dial(t, alice.Signer())
	other := crypto.Sum(swapped)
	lying := &coffrev1.PutBlockRequest{VaultId: w.vault, BlockId: certificate.NewID(), Data: genuine, DataDigest: other[:]}
	if _, err := raw.PutBlock(bg(), lying); wire.FromStatus(err) != wire.ErrUnauthenticated {
		t.Errorf("a digest of other bytes: the server answered %v, want %v", err, wire.ErrUnauthenticated)
	}
	// 3. No digest at all but bytes: the signature would cover nothing of them.
	if _, err := raw.PutBlock(bg(), &coffrev1.PutBlockRequest{VaultId: w.vault, BlockId: certificate.NewID(), Data: genuine, DataDigest: make([]byte, 32)}); wire.FromStatus(err) != wire.ErrUnauthenticated {
		t.Errorf("a zero digest: the server answered %v, want %v", err, wire.ErrUnauthenticated)
	}
	if blocks := w.blockSet(t); len(blocks) != 0 {
		t.Fatalf("the server stored %d refused blocks", len(blocks))
	}

	// The same request with matching bytes goes through: the refusals
	// were for the mismatch only.
	if _, err := unsigned.PutBlock(ctx, signedReq); err != nil {
		t.Fatalf("the genuine block: %v", err)
	}
	if blocks := w.blockSet(t); len(blocks) != 1 || !blocks[signedReq.BlockId] {
		t.Fatalf("after the genuine block the server holds %v", blocks)
	}
}
