package workspace

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
)

// TestNewKeyBundleSealsToEachMember: the seals are made on every core,
// yet each one is the member's own, in the members' order, and opens
// with that member's key only.
func TestNewKeyBundleSealsToEachMember(t *testing.T) {
	const n = 37
	var members []*certificate.User
	var keys []*crypto.SealKey
	for i := range n {
		k, err := crypto.GenerateSealKey()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
		members = append(members, &certificate.User{ID: fmt.Sprintf("user-%02d", i), SealKey: k.Public()})
	}
	key, b, err := NewKeyBundle("org", "vault", 3, members, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Sealed) != n {
		t.Fatalf("%d seals, want %d", len(b.Sealed), n)
	}
	for i, s := range b.Sealed {
		if s.UserID != members[i].ID {
			t.Fatalf("seal %d is for %s, want %s", i, s.UserID, members[i].ID)
		}
		raw, err := keys[i].Open(sealContext, sealAAD("org", "vault", 3, s.UserID), s.Sealed)
		if err != nil || !bytes.Equal(raw, key.Bytes()) {
			t.Fatalf("seal %d does not open to the key with its member's seal key: %v", i, err)
		}
		if _, err := keys[(i+1)%n].Open(sealContext, sealAAD("org", "vault", 3, s.UserID), s.Sealed); err == nil {
			t.Fatalf("seal %d opens with another member's key", i)
		}
	}
}
