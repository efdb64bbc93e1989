package wire

import (
	"context"
	"errors"
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
