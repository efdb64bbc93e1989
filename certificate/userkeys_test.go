package certificate

import (
	"errors"
	"testing"

	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"google.golang.org/protobuf/proto"
)

// sealedDevice is a member's second device with its own seal key.
func (f *fixture) sealedDevice(m member) (string, *crypto.SigningKey, *crypto.SealKey) {
	f.t.Helper()
	d := newMember(f.t)
	seal, err := crypto.GenerateSealKey()
	if err != nil {
		f.t.Fatal(err)
	}
	f.mustApply(f.sign(m.key, m.device, DeviceAdded{DeviceID: d.device, UserID: m.user, Label: "tablet", VerifyKey: d.key.Public(), SealKey: seal.Public()})...)
	return d.device, d.key, seal
}

// TestUserKeysRotatedFolds: a well-formed rotation by the user's own device
// replaces their seal key from its position on; the key in force before it
// stays answerable by position, and a vault whose newest key is older
// needs a rotation.
func TestUserKeysRotatedFolds(t *testing.T) {
	f := newFixture(t)
	bob := f.enrol(ProfileStandard, "bob@x")
	vault := NewID()
	f.mustApply(f.sign(bob.key, bob.device, VaultCreated{VaultID: vault, EncryptedName: []byte("n"),
		Key: KeyBundle{Index: 1, Canary: []byte("c"), Commitment: make([]byte, 32), Sealed: []SealedKey{{UserID: bob.user, Sealed: []byte("k")}}}})...)
	tablet, _, _ := f.sealedDevice(bob)
	next, _ := crypto.GenerateSealKey()
	f.mustApply(f.sign(bob.key, bob.device, UserKeysRotated{UserID: bob.user, SealKey: next.Public(),
		Sealed: []DeviceSealedKey{{DeviceID: tablet, Sealed: []byte("s")}}})...)
	u, _ := f.org.User(bob.user)
	v, _ := f.org.Vault(vault)
	at := f.org.Head.Position
	switch {
	case !u.SealKey.Equal(next.Public()) || u.KeysRotatedAt() != at:
		t.Fatalf("after the rotation: key changed %v, rotated at %d (want %d)", u.SealKey.Equal(next.Public()), u.KeysRotatedAt(), at)
	case !u.SealKeyAt(at-1).Equal(bob.seal) || !u.SealKeyAt(at+1).Equal(next.Public()):
		t.Fatal("SealKeyAt does not answer the key in force by position")
	case !f.org.NeedsRotation(v, f.now):
		t.Fatal("a vault keyed before the user's key rotation does not need a rotation")
	}
	d, _ := f.org.Device(tablet)
	if !d.HasSealKey() {
		t.Fatal("the tablet's seal key was not folded")
	}
}

// TestUserKeysRotatedRules: each rule of SPEC.md §15.2 step 2 refuses.
func TestUserKeysRotatedRules(t *testing.T) {
	f := newFixture(t)
	bob := f.enrol(ProfileStandard, "bob@x")
	carol := f.enrol(ProfileStandard, "carol@x")
	tablet, _, _ := f.sealedDevice(bob)
	next, _ := crypto.GenerateSealKey()
	ok := []DeviceSealedKey{{DeviceID: tablet, Sealed: []byte("s")}}
	rot := func(user string, key crypto.SealPublicKey, sealed []DeviceSealedKey) UserKeysRotated {
		return UserKeysRotated{UserID: user, SealKey: key, Sealed: sealed}
	}
	f.refuse(ErrRule, f.sign(f.admin.key, f.admin.device, rot(bob.user, next.Public(), ok))...)
	f.refuse(ErrRule, f.sign(carol.key, carol.device, rot(bob.user, next.Public(), ok))...)
	f.refuse(ErrRule, f.sign(bob.key, bob.device, rot(bob.user, bob.seal, ok))...)
	f.refuse(ErrRule, f.sign(bob.key, bob.device, rot(bob.user, next.Public(), nil))...)
	f.refuse(ErrRule, f.sign(bob.key, bob.device, rot(bob.user, next.Public(), []DeviceSealedKey{{DeviceID: bob.device, Sealed: []byte("s")}}))...)
	f.refuse(ErrRule, f.sign(bob.key, bob.device, rot(bob.user, next.Public(), append(ok, ok[0])))...)
	// Carol's only device has no seal key: no rotation can reach her.
	f.refuse(ErrRule, f.sign(carol.key, carol.device, rot(carol.user, next.Public(), nil))...)
	f.mustApply(f.sign(bob.key, bob.device, rot(bob.user, next.Public(), ok))...)
	// The key he used first, used again.
	f.refuse(ErrRule, f.sign(bob.key, bob.device, rot(bob.user, bob.seal, ok))...)
}

// A device's seal key, when present, must be well formed.
func TestDeviceSealKeyWellFormed(t *testing.T) {
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(&coffrev1.Certificate{
		FormatVersion: FormatVersion, OrganisationId: "org", Author: "device", Position: 3,
		Statement: &coffrev1.Certificate_Device{Device: &coffrev1.DeviceStatement{
			DeviceId: "d", UserId: "u", VerifyKey: newMember(t).key.Public().Bytes(), SealPublicKey: []byte{2, 1, 2, 3},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(&coffrev1.SignedCertificate{Body: body, Signature: []byte{1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(data); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Parse(device with a bad seal key) = %v, want ErrMalformed", err)
	}
}
