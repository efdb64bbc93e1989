package certificate

import (
	"errors"
	"strings"
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

// committed adds a user with a committed identity, signed by the admin,
// and returns its id; open writes its email in the state, as a client
// that received the opening does.
func (f *fixture) committed(email string) string {
	f.t.Helper()
	m := newMember(f.t)
	_, commitment := NewIdentity(f.org.ID, m.user, email, email)
	f.mustApply(f.sign(f.admin.key, f.admin.device, UserCreated{UserID: m.user, Profile: ProfileStandard, SealKey: m.seal, IdentityCommitment: commitment})...)
	return m.user
}

func (f *fixture) open(id, email string) {
	u, _ := f.org.User(id)
	u.Name, u.Email = email, email
}

func (f *fixture) revoke(id string) {
	f.t.Helper()
	f.mustApply(f.sign(f.admin.key, f.admin.device, UserRevoked{UserID: id})...)
}

// TestCheckEmails: a committed user's email, once opened, may not be
// (case-insensitively) that of a user active when the later of the two was
// created, in clear or committed, whichever is opened first; a revoked
// user's email may be given again (SPEC.md §3.3, §17, SECURITY.md A70).
func TestCheckEmails(t *testing.T) {
	t.Run("the email of a user in clear", func(t *testing.T) {
		f := newFixture(t)
		c := f.committed("ALICE@example.org")
		if err := f.org.CheckEmails(f.org.Head.Position, nil); err != nil {
			t.Fatalf("unopened: %v", err)
		}
		f.open(c, "ALICE@example.org")
		if err := f.org.CheckEmails(f.org.Head.Position, []string{c}); !errors.Is(err, ErrDuplicateEmail) {
			t.Fatalf("alice's email in another case: %v, want ErrDuplicateEmail", err)
		}
	})
	t.Run("the earlier user's opening comes last", func(t *testing.T) {
		f := newFixture(t)
		first := f.committed("dup@example.org")
		second := f.committed("Dup@example.org")
		f.open(second, "Dup@example.org")
		if err := f.org.CheckEmails(f.org.Head.Position, []string{second}); err != nil {
			t.Fatalf("the first user unknown: %v", err)
		}
		f.open(first, "dup@example.org")
		err := f.org.CheckEmails(f.org.Head.Position, []string{first})
		if !errors.Is(err, ErrDuplicateEmail) {
			t.Fatalf("the first user opened: %v, want ErrDuplicateEmail", err)
		}
		if want := "user " + second + " "; !strings.Contains(err.Error(), want) {
			t.Fatalf("%v: want the later user, %s, named as the one refused", err, second)
		}
	})
	t.Run("a user in clear after a committed one", func(t *testing.T) {
		f := newFixture(t)
		f.open(f.committed("c@example.org"), "c@example.org")
		since := f.org.Head.Position
		f.enrol(ProfileStandard, "C@example.org")
		if err := f.org.CheckEmails(since, nil); !errors.Is(err, ErrDuplicateEmail) {
			t.Fatalf("%v, want ErrDuplicateEmail", err)
		}
	})
	t.Run("revoked before", func(t *testing.T) {
		f := newFixture(t)
		old := f.committed("r@example.org")
		f.open(old, "r@example.org")
		f.revoke(old)
		again := f.committed("r@example.org")
		f.open(again, "r@example.org")
		if err := f.org.CheckEmails(0, nil); err != nil {
			t.Fatalf("the email of a revoked user given again: %v", err)
		}
	})
	t.Run("revoked after", func(t *testing.T) {
		f := newFixture(t)
		first := f.committed("s@example.org")
		second := f.committed("s@example.org")
		f.revoke(first)
		f.open(first, "s@example.org")
		f.open(second, "s@example.org")
		if err := f.org.CheckEmails(0, nil); !errors.Is(err, ErrDuplicateEmail) {
			t.Fatalf("a duplicate whose first holder was revoked later: %v, want ErrDuplicateEmail", err)
		}
	})
	t.Run("two users in clear are the log's rule", func(t *testing.T) {
		f := newFixture(t)
		f.enrol(ProfileStandard, "Case@example.org")
		f.enrol(ProfileStandard, "case@example.org")
		if err := f.org.CheckEmails(0, nil); err != nil {
			t.Fatalf("%v: emails in clear differing by case are allowed by the log (byte for byte)", err)
		}
	})
}

func TestFoldEmailIsEqualFold(t *testing.T) {
	for _, c := range [][2]string{{"Alice@X.org", "alice@x.org"}, {"ſam@x", "SAM@x"}, {"\u212a@x", "k@x"}, {"é@x", "É@x"}, {"a@x", "b@x"}, {"ß@x", "ss@x"}} {
		if got, want := foldEmail(c[0]) == foldEmail(c[1]), strings.EqualFold(c[0], c[1]); got != want {
			t.Errorf("%q, %q: same key %v, EqualFold %v", c[0], c[1], got, want)
		}
	}
}
