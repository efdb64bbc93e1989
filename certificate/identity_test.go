package certificate

import (
	"errors"
	"testing"
)

func TestIdentityOpensOnlyItsCommitment(t *testing.T) {
	opening, commitment := NewIdentity("org", "alice", "Alice", "alice@example.com")
	id, err := OpenIdentity("org", "alice", commitment, opening)
	if err != nil || id.Name != "Alice" || id.Email != "alice@example.com" {
		t.Fatalf("OpenIdentity = %+v, %v; want Alice", id, err)
	}
	otherOpening, _ := NewIdentity("org", "bob", "Bob", "bob@example.com")
	cases := map[string]func() error{
		"swapped opening": func() error { _, err := OpenIdentity("org", "alice", commitment, otherOpening); return err },
		"other user":      func() error { _, err := OpenIdentity("org", "bob", commitment, opening); return err },
		"other org":       func() error { _, err := OpenIdentity("org2", "alice", commitment, opening); return err },
		"no commitment":   func() error { _, err := OpenIdentity("org", "alice", nil, opening); return err },
	}
	for name, f := range cases {
		if err := f(); !errors.Is(err, ErrIdentity) {
			t.Errorf("%s: err = %v, want ErrIdentity", name, err)
		}
	}
}

func TestSplitIdentityKeepsTheCertificateBytes(t *testing.T) {
	cert := []byte{0x0a, 0x01, 'b', 0x12, 0x01, 's'} // body "b", signature "s"
	opening, _ := NewIdentity("org", "alice", "Alice", "a@example.com")
	entry, err := WithIdentity(cert, opening)
	if err != nil {
		t.Fatal(err)
	}
	got, gotOpening, err := SplitIdentity(entry)
	if err != nil || string(got) != string(cert) || string(gotOpening) != string(opening) {
		t.Fatalf("SplitIdentity = %x, %x, %v; want %x and the opening", got, gotOpening, err, cert)
	}
	same, none, err := SplitIdentity(cert)
	if err != nil || string(same) != string(cert) || none != nil {
		t.Fatalf("SplitIdentity of an entry without identity = %x, %x, %v", same, none, err)
	}
}

func TestCommittedUserKeepsNameAndEmailOutOfTheLog(t *testing.T) {
	f := newFixture(t)
	m := newMember(t)
	_, commitment := NewIdentity(f.org.ID, m.user, "Mallory", "m@x")
	f.refuse(ErrRule, f.sign(f.admin.key, f.admin.device, UserCreated{UserID: m.user, Email: "m@x", Profile: ProfileOutsider, SealKey: m.seal, IdentityCommitment: commitment})...)
	f.refuse(ErrRule, f.sign(f.admin.key, f.admin.device, UserCreated{UserID: m.user, Profile: ProfileOutsider, SealKey: m.seal, IdentityCommitment: commitment[:8]})...)
	f.mustApply(f.sign(f.admin.key, f.admin.device, UserCreated{UserID: m.user, Profile: ProfileOutsider, SealKey: m.seal, IdentityCommitment: commitment})...)
	u, ok := f.org.User(m.user)
	if !ok || u.Email != "" || u.Name != "" || string(u.IdentityCommitment) != string(commitment) {
		t.Fatalf("user = %+v; want the commitment and no name or email", u)
	}
	back, err := FromSnapshot(f.org.ID, f.org.Root, f.org.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := back.User(m.user); string(u.IdentityCommitment) != string(commitment) {
		t.Fatalf("after a snapshot the commitment is %x, want %x", u.IdentityCommitment, commitment)
	}
}
