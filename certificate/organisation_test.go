package certificate

import (
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/crypto"
)

// member is a user with one device whose key the test holds.
type member struct {
	user, device string
	key          *crypto.SigningKey
	seal         crypto.SealPublicKey
}

type fixture struct {
	t     *testing.T
	root  *crypto.SigningKey
	org   *Organisation
	now   time.Time
	admin member
}

func newMember(t testing.TB) member {
	t.Helper()
	k, err := crypto.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := crypto.GenerateSealKey()
	if err != nil {
		t.Fatal(err)
	}
	return member{user: NewID(), device: NewID(), key: k, seal: s.Public()}
}

// newFixture bootstraps an organisation: the root key signs the first admin
// and their device at positions 1 and 2.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	root, err := crypto.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, root: root, org: NewOrganisation(NewID(), root.Public()), now: time.Unix(1_800_000_000, 0), admin: newMember(t)}
	certs, err := f.org.SignNext(root, "", f.now,
		UserCreated{UserID: f.admin.user, Name: "Alice", Email: "alice@example.org", Profile: ProfileAdmin, SealKey: f.admin.seal},
		DeviceAdded{DeviceID: f.admin.device, UserID: f.admin.user, Label: "laptop", VerifyKey: f.admin.key.Public()},
	)
	if err != nil {
		t.Fatal(err)
	}
	f.mustApply(certs...)
	return f
}

func (f *fixture) sign(key *crypto.SigningKey, author string, stmts ...Statement) [][]byte {
	f.t.Helper()
	f.now = f.now.Add(time.Second)
	certs, err := f.org.SignNext(key, author, f.now, stmts...)
	if err != nil {
		f.t.Fatal(err)
	}
	return certs
}

func (f *fixture) apply(certs ...[]byte) error {
	for _, c := range certs {
		if _, err := f.org.Apply(f.org.Head.Position+1, c); err != nil {
			return err
		}
	}
	return nil
}

func (f *fixture) mustApply(certs ...[]byte) {
	f.t.Helper()
	if err := f.apply(certs...); err != nil {
		f.t.Fatal(err)
	}
}

// enrol adds a user with their first device, signed by the admin.
func (f *fixture) enrol(p Profile, email string) member {
	f.t.Helper()
	m := newMember(f.t)
	f.mustApply(f.sign(f.admin.key, f.admin.device,
		UserCreated{UserID: m.user, Name: email, Email: email, Profile: p, SealKey: m.seal},
		DeviceAdded{DeviceID: m.device, UserID: m.user, Label: "pc", VerifyKey: m.key.Public()},
	)...)
	return m
}

// refuse applies certs and expects err; the state must not move.
func (f *fixture) refuse(want error, certs ...[]byte) {
	f.t.Helper()
	before := f.org.Head
	users := len(f.org.Users())
	err := f.apply(certs...)
	if !errors.Is(err, want) {
		f.t.Fatalf("got error %v, want %v", err, want)
	}
	if f.org.Head.Position != before.Position || len(f.org.Users()) != users {
		f.t.Fatalf("state moved on a refused certificate: head %d → %d", before.Position, f.org.Head.Position)
	}
}

func TestBootstrapState(t *testing.T) {
	f := newFixture(t)
	u, ok := f.org.User(f.admin.user)
	if !ok || u.Profile != ProfileAdmin || u.Email != "alice@example.org" {
		t.Fatalf("first admin not folded in: %+v", u)
	}
	d, ok := f.org.Device(f.admin.device)
	if !ok || !d.VerifyKey.Equal(f.admin.key.Public()) {
		t.Fatal("first device not folded in with its key")
	}
	if f.org.Head.Position != 2 {
		t.Fatalf("head at %d, want 2", f.org.Head.Position)
	}
}

func TestRules(t *testing.T) {
	t.Run("root signs nothing after bootstrap", func(t *testing.T) {
		f := newFixture(t)
		m := newMember(t)
		f.refuse(ErrRule, f.sign(f.root, "", UserCreated{UserID: m.user, Email: "x@y", Profile: ProfileAdmin, SealKey: m.seal})...)
	})
	t.Run("bootstrap must be root-signed admin", func(t *testing.T) {
		root, _ := crypto.GenerateSigningKey()
		org := NewOrganisation(NewID(), root.Public())
		m := newMember(t)
		certs, _ := org.SignNext(root, "", time.Now(), UserCreated{UserID: m.user, Email: "a@b", Profile: ProfileStandard, SealKey: m.seal})
		if _, err := org.Apply(1, certs[0]); !errors.Is(err, ErrRule) {
			t.Fatalf("standard first user accepted: %v", err)
		}
		other, _ := crypto.GenerateSigningKey()
		certs, _ = org.SignNext(other, "", time.Now(), UserCreated{UserID: m.user, Email: "a@b", Profile: ProfileAdmin, SealKey: m.seal})
		if _, err := org.Apply(1, certs[0]); !errors.Is(err, ErrSignature) {
			t.Fatalf("bootstrap by a key that is not the root accepted: %v", err)
		}
	})
	t.Run("standard user can't create users", func(t *testing.T) {
		f := newFixture(t)
		bob := f.enrol(ProfileStandard, "bob@x")
		m := newMember(t)
		f.refuse(ErrRule, f.sign(bob.key, bob.device, UserCreated{UserID: m.user, Email: "m@x", Profile: ProfileAdmin, SealKey: m.seal})...)
	})
	t.Run("standard user can't revoke or change profiles", func(t *testing.T) {
		f := newFixture(t)
		bob := f.enrol(ProfileStandard, "bob@x")
		f.refuse(ErrRule, f.sign(bob.key, bob.device, UserRevoked{UserID: f.admin.user})...)
		f.refuse(ErrRule, f.sign(bob.key, bob.device, ProfileChanged{UserID: bob.user, Profile: ProfileAdmin})...)
	})
	t.Run("no self revocation or self profile change", func(t *testing.T) {
		f := newFixture(t)
		f.refuse(ErrRule, f.sign(f.admin.key, f.admin.device, UserRevoked{UserID: f.admin.user})...)
		f.refuse(ErrRule, f.sign(f.admin.key, f.admin.device, ProfileChanged{UserID: f.admin.user, Profile: ProfileStandard})...)
	})
	t.Run("admin can't add a device to an existing member", func(t *testing.T) {
		f := newFixture(t)
		bob := f.enrol(ProfileStandard, "bob@x")
		evil, _ := crypto.GenerateSigningKey()
		f.refuse(ErrRule, f.sign(f.admin.key, f.admin.device, DeviceAdded{DeviceID: NewID(), UserID: bob.user, Label: "evil", VerifyKey: evil.Public()})...)
	})
	t.Run("a user adds their own device", func(t *testing.T) {
		f := newFixture(t)
		bob := f.enrol(ProfileStandard, "bob@x")
		k, _ := crypto.GenerateSigningKey()
		f.mustApply(f.sign(bob.key, bob.device, DeviceAdded{DeviceID: NewID(), UserID: bob.user, Label: "phone", VerifyKey: k.Public()})...)
		if n := len(f.org.Devices(bob.user)); n != 2 {
			t.Fatalf("bob has %d devices, want 2", n)
		}
	})
	t.Run("revoked user's devices sign nothing after the revocation", func(t *testing.T) {
		f := newFixture(t)
		bob := f.enrol(ProfileAdmin, "bob@x")
		f.mustApply(f.sign(f.admin.key, f.admin.device, UserRevoked{UserID: bob.user})...)
		m := newMember(t)
		f.refuse(ErrRule, f.sign(bob.key, bob.device, UserCreated{UserID: m.user, Email: "m@x", Profile: ProfileStandard, SealKey: m.seal})...)
	})
	t.Run("duplicate ids and active emails", func(t *testing.T) {
		f := newFixture(t)
		bob := f.enrol(ProfileStandard, "bob@x")
		m := newMember(t)
		f.refuse(ErrRule, f.sign(f.admin.key, f.admin.device, UserCreated{UserID: bob.user, Email: "other@x", Profile: ProfileStandard, SealKey: m.seal})...)
		f.refuse(ErrRule, f.sign(f.admin.key, f.admin.device, UserCreated{UserID: m.user, Email: "bob@x", Profile: ProfileStandard, SealKey: m.seal})...)
		// Once bob is revoked, the address can be given to a new account.
		f.mustApply(f.sign(f.admin.key, f.admin.device, UserRevoked{UserID: bob.user})...)
		f.mustApply(f.sign(f.admin.key, f.admin.device, UserCreated{UserID: m.user, Email: "bob@x", Profile: ProfileStandard, SealKey: m.seal})...)
	})
	t.Run("unknown author and bad ids", func(t *testing.T) {
		f := newFixture(t)
		k, _ := crypto.GenerateSigningKey()
		f.refuse(ErrRule, f.sign(k, NewID(), UserRevoked{UserID: f.admin.user})...)
		m := newMember(t)
		f.refuse(ErrRule, f.sign(f.admin.key, f.admin.device, UserCreated{UserID: "Not/An Id", Email: "m@x", Profile: ProfileStandard, SealKey: m.seal})...)
		f.refuse(ErrRule, f.sign(f.admin.key, f.admin.device, UserCreated{UserID: m.user, Email: "m@x", Profile: Profile(42), SealKey: m.seal})...)
	})
	t.Run("timestamps never go back", func(t *testing.T) {
		f := newFixture(t)
		m := newMember(t)
		certs, _ := Sign(f.admin.key, Draft{
			OrganisationID: f.org.ID, Author: f.admin.device, Time: f.now.Add(-time.Hour),
			Position: 3, PreviousHash: f.org.Head.Hash,
			Statement: UserCreated{UserID: m.user, Email: "m@x", Profile: ProfileStandard, SealKey: m.seal},
		})
		f.refuse(ErrRule, certs)
	})
}

func TestChain(t *testing.T) {
	t.Run("wrong previous hash", func(t *testing.T) {
		f := newFixture(t)
		m := newMember(t)
		c, _ := Sign(f.admin.key, Draft{OrganisationID: f.org.ID, Author: f.admin.device, Time: f.now,
			Position: 3, PreviousHash: make([]byte, 32), Statement: UserRevoked{UserID: m.user}})
		f.refuse(ErrChain, c)
	})
	t.Run("wrong position", func(t *testing.T) {
		f := newFixture(t)
		c, _ := Sign(f.admin.key, Draft{OrganisationID: f.org.ID, Author: f.admin.device, Time: f.now,
			Position: 4, PreviousHash: f.org.Head.Hash, Statement: UserRevoked{UserID: f.admin.user}})
		f.refuse(ErrChain, c)
	})
	t.Run("reordered batch", func(t *testing.T) {
		f := newFixture(t)
		m := newMember(t)
		certs := f.sign(f.admin.key, f.admin.device,
			UserCreated{UserID: m.user, Email: "m@x", Profile: ProfileStandard, SealKey: m.seal},
			DeviceAdded{DeviceID: m.device, UserID: m.user, Label: "pc", VerifyKey: m.key.Public()})
		f.refuse(ErrChain, certs[1], certs[0])
	})
	t.Run("other organisation", func(t *testing.T) {
		f := newFixture(t)
		g := newFixture(t)
		certs := g.sign(g.admin.key, g.admin.device, UserRevoked{UserID: g.admin.user})
		f.refuse(ErrRule, certs...)
	})
	t.Run("tampered body", func(t *testing.T) {
		f := newFixture(t)
		m := newMember(t)
		certs := f.sign(f.admin.key, f.admin.device, UserCreated{UserID: m.user, Name: "Mallory", Email: "m@x", Profile: ProfileStandard, SealKey: m.seal})
		bad := append([]byte(nil), certs[0]...)
		i := indexOf(bad, []byte("Mallory"))
		bad[i] = 'W'
		f.refuse(ErrSignature, bad)
	})
}

func indexOf(b, sub []byte) int {
	for i := 0; i+len(sub) <= len(b); i++ {
		if string(b[i:i+len(sub)]) == string(sub) {
			return i
		}
	}
	panic("substring not found")
}

func TestCloneIsIndependent(t *testing.T) {
	f := newFixture(t)
	c := f.org.Clone()
	bob := newMember(t)
	f.mustApply(f.sign(f.admin.key, f.admin.device,
		UserCreated{UserID: bob.user, Email: "b@x", Profile: ProfileStandard, SealKey: bob.seal})...)
	if _, ok := c.User(bob.user); ok || c.Head.Position != 2 {
		t.Fatal("clone saw a change made to the original")
	}
}

// TestCloneSharesNothingTheFoldChanges: a member removed from a vault and
// a user revoked in a clone (Clone copies its tables whole) stay in the
// original, and the clone sees nothing applied to the original after.
func TestCloneSharesNothingTheFoldChanges(t *testing.T) {
	f := newFixture(t)
	vault := f.vault()
	bob := f.enrol(ProfileStandard, "bob@x")
	carol := f.enrol(ProfileStandard, "carol@x")
	f.mustApply(f.sign(f.admin.key, f.admin.device, f.grant(vault, bob, RoleContributor, time.Time{}))...)
	orig := f.org
	f.org = orig.Clone()
	f.mustApply(f.sign(f.admin.key, f.admin.device,
		VaultRoleSet{VaultID: vault, UserID: bob.user, Role: RoleNone}, UserRevoked{UserID: carol.user})...)
	clone := f.org
	ov, _ := orig.Vault(vault)
	if orig.RoleOf(ov, bob.user, f.now) != RoleContributor || len(orig.ActiveMembers(ov, f.now)) != 2 {
		t.Fatal("a removal applied to the clone reached the original")
	}
	if u, _ := orig.User(carol.user); u.Revoked() {
		t.Fatal("a revocation applied to the clone reached the original")
	}
	f.org = orig
	f.mustApply(f.sign(f.admin.key, f.admin.device, f.grant(vault, carol, RoleReader, time.Time{}))...)
	cv, _ := clone.Vault(vault)
	if clone.RoleOf(cv, carol.user, f.now) != RoleNone || clone.RoleOf(cv, bob.user, f.now) != RoleNone {
		t.Fatal("the clone's vault changed with the original's")
	}
}

func FuzzParse(f *testing.F) {
	fx := newFixture(&testing.T{})
	for _, s := range fx.sign(fx.admin.key, fx.admin.device, UserRevoked{UserID: fx.admin.user}) {
		f.Add(s)
	}
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x02, 0x08, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("parse error not ErrMalformed: %v", err)
			}
			return
		}
		if c.Statement == nil {
			t.Fatal("parsed certificate without a statement")
		}
	})
}

func FuzzApply(f *testing.F) {
	root, _ := crypto.GenerateSigningKey()
	orgID := "0123456789abcdef"
	m := member{user: "aaaaaaaaaaaaaaaa", device: "bbbbbbbbbbbbbbbb"}
	m.key, _ = crypto.GenerateSigningKey()
	sk, _ := crypto.GenerateSealKey()
	org := NewOrganisation(orgID, root.Public())
	certs, _ := org.SignNext(root, "", time.Unix(1_800_000_000, 0),
		UserCreated{UserID: m.user, Email: "a@b", Profile: ProfileAdmin, SealKey: sk.Public()},
		DeviceAdded{DeviceID: m.device, UserID: m.user, Label: "l", VerifyKey: m.key.Public()})
	f.Add(certs[0], certs[1])
	f.Fuzz(func(t *testing.T, a, b []byte) {
		o := NewOrganisation(orgID, root.Public())
		// Only the genuine bytes may be accepted: a forger has no root key.
		if _, err := o.Apply(1, a); err == nil && string(a) != string(certs[0]) {
			t.Fatalf("accepted forged or re-encoded bytes %x", a)
		}
		o.Apply(2, b)
	})
}

// vault creates a vault owned by the admin; the keys are placeholders (the
// log checks who a key is sealed to, not the sealed bytes).
func (f *fixture) vault() string {
	f.t.Helper()
	id := NewID()
	f.mustApply(f.sign(f.admin.key, f.admin.device, VaultCreated{VaultID: id, EncryptedName: []byte("name"),
		Key: KeyBundle{Index: 1, Canary: []byte("canary"), Commitment: make([]byte, 32),
			Sealed: []SealedKey{{UserID: f.admin.user, Sealed: []byte("k")}}}})...)
	return id
}

// grant is a statement giving m a role in a vault, with the newest key.
func (f *fixture) grant(vault string, m member, r Role, until time.Time) VaultRoleSet {
	v, _ := f.org.Vault(vault)
	return VaultRoleSet{VaultID: vault, UserID: m.user, Role: r, Until: until,
		Key: &SealedKey{UserID: m.user, Sealed: []byte("k")}, KeyIndex: v.KeyIndex()}
}

// TestManagerGrantsHaveNoEnd: an owner's or manager's rights end only by a
// certificate at a log position, never by a date (SECURITY.md A24); a
// contributor's or reader's grant may end by a date.
func TestManagerGrantsHaveNoEnd(t *testing.T) {
	f := newFixture(t)
	vault := f.vault()
	for _, r := range []Role{RoleOwner, RoleManager} {
		m := f.enrol(ProfileStandard, r.String()+"@x")
		f.refuse(ErrRule, f.sign(f.admin.key, f.admin.device, f.grant(vault, m, r, f.now.Add(time.Hour)))...)
		if !errors.Is(CheckGrantEnd(r, f.now.Add(time.Hour)), ErrManagerUntil) {
			t.Errorf("CheckGrantEnd accepts an end for %s", r)
		}
	}
	for _, r := range []Role{RoleContributor, RoleReader} {
		m := f.enrol(ProfileStandard, r.String()+"@x")
		f.mustApply(f.sign(f.admin.key, f.admin.device, f.grant(vault, m, r, f.now.Add(time.Hour)))...)
	}
}

// TestApplyAtChecksRightsAtTheWritersClock: the server applies what a
// device appends at its own clock as well as at the time the certificate
// claims, so that a manager whose grant ended can't date a grant back to
// before the end (SECURITY.md A24). Time-boxed managers can no longer be
// made (TestManagerGrantsHaveNoEnd), so the state of an older log that has
// one is set by hand.
func TestApplyAtChecksRightsAtTheWritersClock(t *testing.T) {
	f := newFixture(t)
	vault := f.vault()
	bob := f.enrol(ProfileStandard, "bob@x")
	f.mustApply(f.sign(f.admin.key, f.admin.device, f.grant(vault, bob, RoleManager, time.Time{}))...)
	end := f.now.Add(time.Minute)
	v, _ := f.org.Vault(vault)
	g := v.grants[bob.user]
	g.Until = end
	v.grants[bob.user] = g
	v.history[len(v.history)-1].grant = g

	colluder := f.enrol(ProfileOutsider, "colluder@x")
	backdated := f.sign(bob.key, bob.device, f.grant(vault, colluder, RoleReader, time.Time{}))
	if !f.now.Before(end) {
		t.Fatal("the grant is not dated before the end of bob's role")
	}
	before := f.org.Clone()
	if _, err := f.org.ApplyAt(f.org.Head.Position+1, backdated[0], end.Add(time.Minute)); !errors.Is(err, ErrRule) {
		t.Fatalf("a grant by a manager whose role ended by the writer's clock: %v, want %v", err, ErrRule)
	}
	// Control: at the time it claims, the grant obeys the rules.
	if _, err := before.Apply(before.Head.Position+1, backdated[0]); err != nil {
		t.Fatalf("control: the grant at the time it claims: %v", err)
	}
}

// TestAnchorPosition: a vault's anchor is the newest of its creation, its
// newest rotation and its newest grant of a key; a grant that gives no key
// (a change of role) and a removal leave it (SECURITY.md A30).
func TestAnchorPosition(t *testing.T) {
	f := newFixture(t)
	vault := f.vault()
	v, _ := f.org.Vault(vault)
	if got := v.AnchorPosition(); got != v.Position {
		t.Fatalf("a new vault's anchor is %d, want its creation %d", got, v.Position)
	}
	bob := f.enrol(ProfileStandard, "bob@x")
	f.mustApply(f.sign(f.admin.key, f.admin.device, f.grant(vault, bob, RoleReader, time.Time{}))...)
	granted := f.org.Head.Position
	if got := v.AnchorPosition(); got != granted {
		t.Fatalf("after a grant of a key the anchor is %d, want %d", got, granted)
	}
	f.mustApply(f.sign(f.admin.key, f.admin.device, VaultRoleSet{VaultID: vault, UserID: bob.user, Role: RoleContributor})...)
	if got := v.AnchorPosition(); got != granted {
		t.Fatalf("a change of role moved the anchor to %d, want %d", got, granted)
	}
}
