package wire

import (
	"context"
	"errors"
	"google.golang.org/protobuf/proto"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

const testMethod = "/coffre.v1.CoffreService/GetLog"

func signed(t *testing.T) (*crypto.SigningKey, *coffrev1.GetLogRequest, metadata.MD) {
	t.Helper()
	key, err := crypto.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	req := &coffrev1.GetLogRequest{From: 7}
	md, err := SignRequest(key, testMethod, "orgaaaaa", "devbbbbb", time.Now(), crypto.RandomBytes(NonceSize), req)
	if err != nil {
		t.Fatal(err)
	}
	return key, req, md
}

// TestRequestSignatureRoundTrip: what SignRequest writes, the server parses
// and verifies; the same signature over anything else does not verify.
func TestRequestSignatureRoundTrip(t *testing.T) {
	key, req, md := signed(t)
	if !HasRequestSignature(md) {
		t.Fatal("signed metadata has no signature")
	}
	rs, err := ParseRequestSignature(md)
	if err != nil {
		t.Fatal(err)
	}
	if rs.Organisation != "orgaaaaa" || rs.Device != "devbbbbb" || len(rs.Nonce) != NonceSize {
		t.Fatalf("parsed %+v", rs)
	}
	if err := rs.Verify(key.Public(), testMethod, req); err != nil {
		t.Fatalf("verify: %v", err)
	}
	other, _ := crypto.GenerateSigningKey()
	for name, check := range map[string]func() error{
		"another method":  func() error { return rs.Verify(key.Public(), "/coffre.v1.CoffreService/AppendCertificates", req) },
		"another request": func() error { return rs.Verify(key.Public(), testMethod, &coffrev1.GetLogRequest{From: 8}) },
		"another key":     func() error { return rs.Verify(other.Public(), testMethod, req) },
		"another time": func() error {
			r := rs
			r.Time = r.Time.Add(time.Millisecond)
			return r.Verify(key.Public(), testMethod, req)
		},
	} {
		if err := check(); !errors.Is(err, ErrBadRequestSignature) {
			t.Errorf("%s: got %v, want ErrBadRequestSignature", name, err)
		}
	}

	// SignOutgoing keeps what the context carried already.
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-other", "kept")
	ctx, err = SignOutgoing(ctx, key, testMethod, "orgaaaaa", "devbbbbb", time.Now(), crypto.RandomBytes(NonceSize), req)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := metadata.FromOutgoingContext(ctx)
	if out.Get("x-other")[0] != "kept" || !HasRequestSignature(out) {
		t.Fatalf("outgoing metadata %v", out)
	}
	if rs, err := ParseRequestSignature(out); err != nil || rs.Verify(key.Public(), testMethod, req) != nil {
		t.Fatalf("outgoing signature: %v", err)
	}
}

// TestRequestSignatureRefused: metadata with a key missing, repeated or
// undecodable is refused before any signature is checked.
func TestRequestSignatureRefused(t *testing.T) {
	_, _, md := signed(t)
	for _, tc := range []struct {
		name   string
		change func(metadata.MD)
	}{
		{"no organisation", func(m metadata.MD) { m.Delete(KeyOrganisation) }},
		{"no device", func(m metadata.MD) { m.Delete(KeyDevice) }},
		{"no time", func(m metadata.MD) { m.Delete(KeyTime) }},
		{"no nonce", func(m metadata.MD) { m.Delete(KeyNonce) }},
		{"no signature", func(m metadata.MD) { m.Delete(KeySignature) }},
		{"two devices", func(m metadata.MD) { m.Append(KeyDevice, "devccccc") }},
		{"time not a number", func(m metadata.MD) { m.Set(KeyTime, "yesterday") }},
		{"nonce too short", func(m metadata.MD) { m.Set(KeyNonce, "AAAA") }},
		{"nonce not base64url", func(m metadata.MD) { m.Set(KeyNonce, "!!!!!!!!!!!!!!!!!!!!!!") }},
		{"signature padded", func(m metadata.MD) { m.Set(KeySignature, m.Get(KeySignature)[0]+"==") }},
	} {
		m := md.Copy()
		tc.change(m)
		if _, err := ParseRequestSignature(m); !errors.Is(err, ErrMalformedRequestSignature) {
			t.Errorf("%s: got %v, want ErrMalformedRequestSignature", tc.name, err)
		}
	}
	if HasRequestSignature(metadata.MD{}) {
		t.Error("empty metadata has a signature")
	}
}

// TestBlockSignatureCoversTheDigest: a PutBlock request is signed over
// the SHA-256 of its data, set by SignRequest; the signed message does not
// depend on the bytes beyond that digest, and Verify refuses data that
// doesn't match it (SPEC.md §6.1, SECURITY.md A58).
func TestBlockSignatureCoversTheDigest(t *testing.T) {
	key, err := crypto.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	const method = "/coffre.v1.CoffreService/PutBlock"
	data := crypto.RandomBytes(1000)
	req := &coffrev1.PutBlockRequest{VaultId: "vaultaaa", BlockId: "blockbbb", Data: data}
	md, err := SignRequest(key, method, "orgaaaaa", "devbbbbb", time.Now(), crypto.RandomBytes(NonceSize), req)
	if err != nil {
		t.Fatal(err)
	}
	if d := crypto.Sum(data); string(req.DataDigest) != string(d[:]) {
		t.Fatal("SignRequest did not set data_digest to the data's SHA-256")
	}
	rs, err := ParseRequestSignature(md)
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Verify(key.Public(), method, req); err != nil {
		t.Fatalf("the genuine block: %v", err)
	}
	withoutData := &coffrev1.PutBlockRequest{VaultId: req.VaultId, BlockId: req.BlockId, DataDigest: req.DataDigest}
	m1, _ := Message(method, rs.Organisation, rs.Device, rs.Time, rs.Nonce, req)
	m2, _ := Message(method, rs.Organisation, rs.Device, rs.Time, rs.Nonce, withoutData)
	if string(m1) != string(m2) {
		t.Error("the signed message depends on the data itself, not only on its digest")
	}
	swapped := &coffrev1.PutBlockRequest{VaultId: req.VaultId, BlockId: req.BlockId, Data: crypto.RandomBytes(1000), DataDigest: req.DataDigest}
	if err := rs.Verify(key.Public(), method, swapped); !errors.Is(err, ErrBadRequestSignature) {
		t.Errorf("other bytes under the signed digest: %v, want %v", err, ErrBadRequestSignature)
	}
	if err := rs.Verify(key.Public(), method, withoutData); !errors.Is(err, ErrBadRequestSignature) {
		t.Errorf("no bytes under the signed digest: %v, want %v", err, ErrBadRequestSignature)
	}
	other := &coffrev1.PutBlockRequest{VaultId: req.VaultId, BlockId: "blockccc", Data: data, DataDigest: req.DataDigest}
	if err := rs.Verify(key.Public(), method, other); !errors.Is(err, ErrBadRequestSignature) {
		t.Errorf("another block id: %v, want %v", err, ErrBadRequestSignature)
	}
}

// TestBatchSignatureCoversEachDigest: a PutBlocks request is signed over
// each block's SHA-256, set by SignRequest; Verify refuses the call if any
// one block's bytes don't match its digest, and a digest changed after
// signing breaks the signature (SPEC.md §6.1, SECURITY.md A59).
func TestBatchSignatureCoversEachDigest(t *testing.T) {
	key, err := crypto.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	const method = "/coffre.v1.CoffreService/PutBlocks"
	req := &coffrev1.PutBlocksRequest{VaultId: "vaultaaa"}
	for _, id := range []string{"blockbbb", "blockccc", "blockddd"} {
		req.Blocks = append(req.Blocks, &coffrev1.BlockData{BlockId: id, Data: crypto.RandomBytes(100)})
	}
	md, err := SignRequest(key, method, "orgaaaaa", "devbbbbb", time.Now(), crypto.RandomBytes(NonceSize), req)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range req.Blocks {
		if d := crypto.Sum(b.Data); string(b.DataDigest) != string(d[:]) {
			t.Fatalf("SignRequest did not set block %d's data_digest to its data's SHA-256", i)
		}
	}
	rs, err := ParseRequestSignature(md)
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Verify(key.Public(), method, req); err != nil {
		t.Fatalf("the genuine batch: %v", err)
	}
	clone := func() *coffrev1.PutBlocksRequest { return proto.Clone(req).(*coffrev1.PutBlocksRequest) }
	stripped := clone()
	for _, b := range stripped.Blocks {
		b.Data = nil
	}
	m1, _ := Message(method, rs.Organisation, rs.Device, rs.Time, rs.Nonce, req)
	m2, _ := Message(method, rs.Organisation, rs.Device, rs.Time, rs.Nonce, stripped)
	if string(m1) != string(m2) {
		t.Error("the signed message depends on the blocks' data itself, not only on their digests")
	}
	swapped := clone()
	swapped.Blocks[1].Data = crypto.RandomBytes(100)
	if err := rs.Verify(key.Public(), method, swapped); !errors.Is(err, ErrBadRequestSignature) {
		t.Errorf("other bytes under one block's signed digest: %v, want %v", err, ErrBadRequestSignature)
	}
	redigested := clone()
	SetDataDigest(swapped)
	redigested.Blocks[1] = swapped.Blocks[1]
	if err := rs.Verify(key.Public(), method, redigested); !errors.Is(err, ErrBadRequestSignature) {
		t.Errorf("one block's bytes and digest replaced: %v, want %v", err, ErrBadRequestSignature)
	}
	dropped := clone()
	dropped.Blocks = dropped.Blocks[:2]
	if err := rs.Verify(key.Public(), method, dropped); !errors.Is(err, ErrBadRequestSignature) {
		t.Errorf("a block dropped: %v, want %v", err, ErrBadRequestSignature)
	}
}
