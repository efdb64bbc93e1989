package adversarial

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/tests/hostile"
	"github.com/coffre/coffre/wire"
)

// TestA17DowngradeRefused: algorithm identifiers and format versions are
// inside signed bytes and have one accepted value each. A certificate
// whose signature or key algorithm byte is changed, whose format version
// is not 1, or whose statement this version does not know, is refused —
// even when signed with the author's real key (SECURITY.md A17, SPEC.md
// §2.1, §3.1).
func TestA17DowngradeRefused(t *testing.T) {
	t.Parallel()
	s := hostile.Start(t)
	d := dirs(t, "admin", "bob")
	admin := hostile.Bootstrap(t, s, d["admin"])
	hostile.Enrol(t, admin, d["bob"], "user", "bob@example.org", certificate.ProfileStandard)
	mustSync(t, admin)
	org := admin.Identity().OrganisationID
	me, bob := hostile.ReadDevice(t, d["admin"]), hostile.ReadDevice(t, d["bob"])
	state := s.LogState(t, org)
	key := me.SigningKey

	// A genuine certificate, signed by the admin, and variants of it.
	genuine := signNext(t, state, key, me.DeviceID, certificate.ProfileChanged{UserID: bob.UserID, Profile: certificate.ProfileOutsider})[0]
	newDevice := signNext(t, state, key, me.DeviceID, certificate.DeviceAdded{
		DeviceID: certificate.NewID(), UserID: me.UserID, Label: "second", VerifyKey: newSigningKey(t).Public(),
	})[0]
	newUser := signNext(t, state, key, me.DeviceID, certificate.UserCreated{
		UserID: certificate.NewID(), Name: "Carol", Email: "carol@example.org", Profile: certificate.ProfileStandard, SealKey: newSealKey(t).Public(),
	})[0]
	withSignature := func(data []byte, change func([]byte) []byte) []byte {
		signed, _ := parseCert(t, data)
		signed.Signature = change(append([]byte(nil), signed.Signature...))
		out, err := deterministic.Marshal(signed)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	_, body := parseCert(t, genuine)
	noStatement := &coffrev1.Certificate{
		FormatVersion: body.FormatVersion, OrganisationId: body.OrganisationId, Author: body.Author,
		TimestampMs: body.TimestampMs, Position: body.Position, PreviousHash: body.PreviousHash,
	}
	unknownStatement, err := deterministic.Marshal(noStatement)
	if err != nil {
		t.Fatal(err)
	}
	// A statement kind from the future: field 99, a message with one byte.
	unknownStatement = protowire.AppendTag(unknownStatement, 99, protowire.BytesType)
	unknownStatement = protowire.AppendBytes(unknownStatement, []byte{0x08, 0x01})

	cases := []struct {
		name  string
		data  []byte
		cause error
	}{
		{"signature algorithm 0x02", withSignature(genuine, func(s []byte) []byte { s[0] = 0x02; return s }), certificate.ErrSignature},
		{"signature algorithm 0x00", withSignature(genuine, func(s []byte) []byte { s[0] = 0x00; return s }), certificate.ErrSignature},
		{"bare Ed25519 signature, no algorithm byte", withSignature(genuine, func(s []byte) []byte { return s[1:] }), certificate.ErrSignature},
		{"format version 1 (no key commitment), signed", mutate(t, genuine, key, func(b *coffrev1.Certificate) { b.FormatVersion = 1 }), certificate.ErrMalformed},
		{"format version 0, signed", mutate(t, genuine, key, func(b *coffrev1.Certificate) { b.FormatVersion = 0 }), certificate.ErrMalformed},
		{"verify key algorithm 0x02, signed", mutate(t, newDevice, key, func(b *coffrev1.Certificate) { b.GetDevice().VerifyKey[0] = 0x02 }), certificate.ErrMalformed},
		{"verify key without algorithm byte, signed", mutate(t, newDevice, key, func(b *coffrev1.Certificate) { b.GetDevice().VerifyKey = b.GetDevice().VerifyKey[1:] }), certificate.ErrMalformed},
		{"seal key algorithm 0x01, signed", mutate(t, newUser, key, func(b *coffrev1.Certificate) { b.GetUser().SealPublicKey[0] = 0x01 }), certificate.ErrMalformed},
		{"seal key without its ML-KEM part, signed", mutate(t, newUser, key, func(b *coffrev1.Certificate) {
			b.GetUser().SealPublicKey = b.GetUser().SealPublicKey[:33]
		}), certificate.ErrMalformed},
		{"unknown statement kind, signed", signBytes(t, key, unknownStatement), certificate.ErrMalformed},
	}
	before := admin.Head()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			serveExtra(s, c.data)
			err := admin.Sync(bg())
			wantErr(t, err, client.ErrBadLog)
			wantCause(t, err, c.cause)
			if !sameHead(admin.Head(), before) {
				t.Fatal("head moved")
			}
			if u, _ := admin.Organisation().User(bob.UserID); u.Profile != certificate.ProfileStandard {
				t.Fatal("a refused certificate changed the verified state")
			}
		})
	}
	s.ClearHooks()
	admin = unchanged(t, admin, d["admin"], before)

	// The server refuses them too when the admin's device sends them.
	raw := s.Dial(t, me.Signer())
	for _, c := range cases {
		_, err := raw.AppendCertificates(bg(), &coffrev1.AppendCertificatesRequest{Certificates: [][]byte{c.data}})
		if wire.FromStatus(err) != wire.ErrCertificateRefused {
			t.Errorf("%s: the server answered %v, want %v", c.name, err, wire.ErrCertificateRefused)
		}
	}
	if headOf(t, s, org) != before.Position {
		t.Fatal("the server stored a refused certificate")
	}
	// The genuine certificate goes through: the variants failed only for
	// what was changed.
	if _, err := raw.AppendCertificates(bg(), &coffrev1.AppendCertificatesRequest{Certificates: [][]byte{genuine}}); err != nil {
		t.Fatalf("the genuine certificate: %v", err)
	}
	mustSync(t, admin)
	if u, _ := admin.Organisation().User(bob.UserID); u.Profile != certificate.ProfileOutsider {
		t.Fatal("the genuine certificate was not applied")
	}
}
