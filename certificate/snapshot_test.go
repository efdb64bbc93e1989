package certificate

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/crypto"
)

// recorder signs and applies statements like the fixture, and keeps the
// certificates, so that they can be applied again in one batch.
type recorder struct {
	f     *fixture
	certs [][]byte
}

func (r *recorder) do(key *crypto.SigningKey, author string, stmts ...Statement) {
	r.f.t.Helper()
	certs := r.f.sign(key, author, stmts...)
	r.f.mustApply(certs...)
	r.certs = append(r.certs, certs...)
}

func (r *recorder) enrol(p Profile, email string) member {
	r.f.t.Helper()
	m := newMember(r.f.t)
	r.do(r.f.admin.key, r.f.admin.device,
		UserCreated{UserID: m.user, Name: email, Email: email, Profile: p, SealKey: m.seal},
		DeviceAdded{DeviceID: m.device, UserID: m.user, Label: "pc", VerifyKey: m.key.Public()})
	return m
}

// richOrganisation folds every kind of statement: users of each profile, a
// second device that signs in the same stretch of log that adds it, a
// revocation and an email taken again after it, a profile change, vaults
// with grants (one with an end), a removal, a rotation, a rename and an
// archive, a device revocation, an emergency policy invoked, approved and
// released, and an orphan vault's takeover. It returns the fixture, the state after the bootstrap, and the
// certificates after it.
func richOrganisation(t *testing.T) (*fixture, *Organisation, [][]byte) {
	f := newFixture(t)
	base := f.org.Clone()
	r := &recorder{f: f}
	bob := r.enrol(ProfileStandard, "bob@x")
	carol := r.enrol(ProfileOutsider, "carol@x")
	dave := r.enrol(ProfileAdmin, "dave@x")
	eve := r.enrol(ProfileStandard, "eve@x")
	phone := newMember(t)
	r.do(bob.key, bob.device, DeviceAdded{DeviceID: phone.device, UserID: bob.user, Label: "phone", VerifyKey: phone.key.Public()})
	bobsVault := NewID()
	r.do(phone.key, phone.device, VaultCreated{VaultID: bobsVault, EncryptedName: []byte("bob's"),
		Key: KeyBundle{Index: 1, Canary: []byte("c"), Commitment: make([]byte, 32), Sealed: []SealedKey{{UserID: bob.user, Sealed: []byte("k")}}}})
	r.do(f.admin.key, f.admin.device, UserRevoked{UserID: dave.user})
	r.enrol(ProfileStandard, "dave@x") // the email is free again
	r.do(f.admin.key, f.admin.device, ProfileChanged{UserID: eve.user, Profile: ProfileOutsider})

	vault := NewID()
	r.do(f.admin.key, f.admin.device, VaultCreated{VaultID: vault, EncryptedName: []byte("name"),
		Key: KeyBundle{Index: 1, Canary: []byte("canary"), Commitment: make([]byte, 32), Sealed: []SealedKey{{UserID: f.admin.user, Sealed: []byte("k")}}}})
	r.do(f.admin.key, f.admin.device, f.grant(vault, bob, RoleManager, time.Time{}))
	r.do(f.admin.key, f.admin.device, f.grant(vault, carol, RoleReader, f.now.Add(time.Hour)))
	r.do(f.admin.key, f.admin.device, f.grant(vault, eve, RoleContributor, time.Time{}))
	r.do(f.admin.key, f.admin.device, VaultRoleSet{VaultID: vault, UserID: eve.user, Role: RoleNone})
	r.do(f.admin.key, f.admin.device, VaultKeyRotated{VaultID: vault, Key: KeyBundle{Index: 2, Canary: []byte("c2"),
		Commitment: bytes.Repeat([]byte{2}, 32), PreviousKeys: []byte("old keys"),
		Sealed: []SealedKey{{UserID: f.admin.user, Sealed: []byte("a")}, {UserID: bob.user, Sealed: []byte("b")}, {UserID: carol.user, Sealed: []byte("c")}}}})
	r.do(bob.key, bob.device, VaultRenamed{VaultID: vault, KeyIndex: 2, EncryptedName: []byte("new name")})
	r.do(bob.key, bob.device, VaultArchived{VaultID: bobsVault, Archived: true})

	// Device revocation (SPEC.md §15): Bob revokes his phone from his pc.
	r.do(bob.key, bob.device, DeviceRevoked{DeviceID: phone.device})
	// Then rotates his keys (SPEC.md §15.2) to a tablet with a seal key.
	tablet, tabletSeal := newMember(t), newMember(t).seal
	r.do(bob.key, bob.device, DeviceAdded{DeviceID: tablet.device, UserID: bob.user, Label: "tablet", VerifyKey: tablet.key.Public(), SealKey: tabletSeal})
	r.do(bob.key, bob.device, UserKeysRotated{UserID: bob.user, SealKey: newMember(t).seal, Sealed: []DeviceSealedKey{{DeviceID: tablet.device, Sealed: []byte("n")}}})
	// Emergency access (SPEC.md §16): a policy with an approver, an
	// invocation, its approval and the key's release; then an orphan vault
	// taken over by an admin.
	fred := r.enrol(ProfileStandard, "fred@x")
	gina := r.enrol(ProfileStandard, "gina@x")
	r.do(f.admin.key, f.admin.device, EmergencyPolicy{VaultID: vault, Invokers: []string{fred.user}, Duration: 4 * time.Hour, Approver: gina.user})
	r.do(fred.key, fred.device, EmergencyInvoked{VaultID: vault, Reason: "patient in resuscitation", Until: f.now.Add(time.Hour)})
	invoked := f.org.Head.Position
	r.do(gina.key, gina.device, EmergencyApproved{VaultID: vault, InvocationPosition: invoked})
	r.do(f.admin.key, f.admin.device, VaultKeyReleased{VaultID: vault, KeyIndex: 2, Key: SealedKey{UserID: fred.user, Sealed: []byte("f")}})
	orphan := NewID()
	r.do(gina.key, gina.device, VaultCreated{VaultID: orphan, EncryptedName: []byte("gina's"),
		Key: KeyBundle{Index: 1, Canary: []byte("c"), Commitment: make([]byte, 32), Sealed: []SealedKey{{UserID: gina.user, Sealed: []byte("g")}}}})
	r.do(f.admin.key, f.admin.device, UserRevoked{UserID: gina.user})
	r.do(f.admin.key, f.admin.device, VaultOwnershipTaken{VaultID: orphan, Reason: "gina left"})
	// Shared recovery (SPEC.md §15.6): bob shares a recovery device among
	// carol and fred.
	rec := newMember(t)
	r.do(bob.key, bob.device, DeviceAdded{DeviceID: rec.device, UserID: bob.user, Label: "recovery", VerifyKey: rec.key.Public()})
	r.do(bob.key, bob.device, SharedRecoverySet{UserID: bob.user, RecoveryDeviceID: rec.device, Threshold: 2, RecoveryFile: []byte("file"),
		Shares: []RecoveryShare{{MemberID: carol.user, Sealed: []byte("c"), Commitment: make([]byte, 32)}, {MemberID: fred.user, Sealed: []byte("f"), Commitment: bytes.Repeat([]byte{1}, 32)}}})
	return f, base, r.certs
}

// TestSnapshotRoundTrip: a snapshot decodes to exactly the state it was
// taken of, unexported indexes included, and that state goes on folding
// the log as the original does.
func TestSnapshotRoundTrip(t *testing.T) {
	f, _, _ := richOrganisation(t)
	snap := f.org.Snapshot()
	if len(snap) != cap(snap) {
		t.Errorf("the snapshot's buffer was sized %d for %d bytes", cap(snap), len(snap))
	}
	back, err := FromSnapshot(f.org.ID, f.org.Root, snap)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.org, back) {
		t.Fatalf("the decoded snapshot differs from the state:\n%+v\n%+v", f.org, back)
	}
	next := f.sign(f.admin.key, f.admin.device, UserCreated{UserID: NewID(), Email: "zoe@x", Profile: ProfileStandard, SealKey: newMember(t).seal})
	if _, err := back.Apply(back.Head.Position+1, next[0]); err != nil {
		t.Fatalf("the decoded state refuses the next entry: %v", err)
	}
	f.mustApply(next...)
	if !reflect.DeepEqual(f.org, back) {
		t.Fatal("the decoded state folds the next entry differently")
	}
	// A taken email is still refused by the decoded index.
	again := f.sign(f.admin.key, f.admin.device, UserCreated{UserID: NewID(), Email: "bob@x", Profile: ProfileStandard, SealKey: newMember(t).seal})
	if _, err := back.Apply(back.Head.Position+1, again[0]); !errors.Is(err, ErrRule) {
		t.Fatalf("a taken email after decoding: %v, want ErrRule", err)
	}
}

// TestSnapshotIsOfOneOrganisation: a snapshot decodes only for the
// organisation id and root key it was taken of, and only in its version.
func TestSnapshotIsOfOneOrganisation(t *testing.T) {
	f, _, _ := richOrganisation(t)
	snap := f.org.Snapshot()
	other, _ := crypto.GenerateSigningKey()
	if _, err := FromSnapshot(NewID(), f.org.Root, snap); !errors.Is(err, ErrSnapshot) {
		t.Fatalf("another organisation id: %v, want ErrSnapshot", err)
	}
	if _, err := FromSnapshot(f.org.ID, other.Public(), snap); !errors.Is(err, ErrSnapshot) {
		t.Fatalf("another root key: %v, want ErrSnapshot", err)
	}
	old := bytes.Clone(snap)
	old[1+len(snapshotMagic)] = 0 // version 0
	if _, err := FromSnapshot(f.org.ID, f.org.Root, old); !errors.Is(err, ErrSnapshotVersion) {
		t.Fatalf("another version: %v, want ErrSnapshotVersion", err)
	}
}

// TestSnapshotDecodingNeverPanics: a truncated or altered snapshot is an
// error or, where the change is only in a value, a state; never a panic
// or an allocation its length can't hold.
func TestSnapshotDecodingNeverPanics(t *testing.T) {
	f, _, _ := richOrganisation(t)
	snap := f.org.Snapshot()
	for n := 0; n < len(snap); n += 7 {
		if _, err := FromSnapshot(f.org.ID, f.org.Root, snap[:n]); !errors.Is(err, ErrSnapshot) && !errors.Is(err, ErrSnapshotVersion) {
			t.Fatalf("truncated to %d bytes: %v", n, err)
		}
	}
	for i := 0; i < len(snap); i += 3 {
		b := bytes.Clone(snap)
		b[i] ^= 0xff
		FromSnapshot(f.org.ID, f.org.Root, b)
	}
}

// TestSnapshotCoversEveryField: the snapshot encodes these fields, by
// hand. A field added to one of these types (a new statement's state)
// fails here: encode it in snapshot.go, bump SnapshotVersion (devices then
// verify their log again once), and add it to this list.
func TestSnapshotCoversEveryField(t *testing.T) {
	want := map[reflect.Type]string{
		reflect.TypeFor[Organisation]():      "ID Root Head users devices vaults hashes activeEmail deviceCount exposedAt lastTime sharedRecoveries",
		reflect.TypeFor[Head]():              "Position Hash",
		reflect.TypeFor[User]():              "ID Name Email Profile SealKey IdentityCommitment CreatedAt CreatedBy Position RevokedAt RevokedBy RevokedOn Rotations",
		reflect.TypeFor[Device]():            "ID UserID Label VerifyKey SealKey CreatedAt CreatedBy Position RevokedAt RevokedBy RevokedOn",
		reflect.TypeFor[Vault]():             "ID CreatedBy CreatedAt Position EncryptedName NameKeyIndex Archived Keys grants history holders Policy emergencies takeovers",
		reflect.TypeFor[KeyBundle]():         "Index Sealed Canary PreviousKeys Commitment Position",
		reflect.TypeFor[SealedKey]():         "UserID Sealed",
		reflect.TypeFor[Grant]():             "UserID Role Until Position Keyless",
		reflect.TypeFor[roleEvent]():         "position time grant key released",
		reflect.TypeFor[GrantKey]():          "Index Sealed",
		reflect.TypeFor[EmergencyPolicy]():   "VaultID Invokers InvokerProfile OnCallVaultID Duration Approver",
		reflect.TypeFor[Emergency]():         "VaultID Position UserID Reason Start Until NeedsApproval Approved ApprovedBy ApprovedAt Released ReleasedBy ReleasedAt",
		reflect.TypeFor[Takeover]():          "Position UserID Reason Time",
		reflect.TypeFor[SealKeyRotation]():   "Position Time Previous Sealed",
		reflect.TypeFor[DeviceSealedKey]():   "DeviceID Sealed",
		reflect.TypeFor[SharedRecovery]():    "SharedRecoverySet Position Time Author",
		reflect.TypeFor[SharedRecoverySet](): "UserID RecoveryDeviceID Threshold Shares RecoveryFile",
		reflect.TypeFor[RecoveryShare]():     "MemberID Sealed Commitment",
	}
	for typ, fields := range want {
		var got []string
		for i := range typ.NumField() {
			got = append(got, typ.Field(i).Name)
		}
		if strings.Join(got, " ") != fields {
			t.Errorf("%s has fields %q; the snapshot encodes %q: update snapshot.go and bump SnapshotVersion", typ, strings.Join(got, " "), fields)
		}
	}
}

// TestApplyAllIsApplyInOrder: applying the log in one batch, parsed and
// verified on every core, gives exactly the state of applying it entry by
// entry — including entries signed by a device the same batch adds.
func TestApplyAllIsApplyInOrder(t *testing.T) {
	f, base, certs := richOrganisation(t)
	entries := make([]Entry, len(certs))
	for i, c := range certs {
		entries[i] = Entry{Position: base.Head.Position + 1 + uint64(i), Data: c}
	}
	batch := base.Clone()
	if n, err := batch.ApplyAll(entries); err != nil || n != len(entries) {
		t.Fatalf("ApplyAll applied %d of %d: %v", n, len(entries), err)
	}
	if !reflect.DeepEqual(f.org, batch) {
		t.Fatal("ApplyAll folds the log differently from Apply")
	}

	// A bad signature in the middle: everything before it is applied,
	// nothing after, and the error is the signature's.
	bad := append([]Entry(nil), entries...)
	forged := bytes.Clone(bad[7].Data)
	forged[len(forged)-1] ^= 1
	bad[7].Data = forged
	batch = base.Clone()
	if n, err := batch.ApplyAll(bad); n != 7 || !errors.Is(err, ErrSignature) {
		t.Fatalf("a forged entry at 7: applied %d, %v; want 7 and ErrSignature", n, err)
	}
	if batch.Head.Position != entries[6].Position {
		t.Fatalf("head at %d after the forged entry, want %d", batch.Head.Position, entries[6].Position)
	}
}

// TestPrecheckedKeyMustBeTheAuthors: a signature checked ahead of the fold
// counts only if the key that checked it is the author's key at that
// position; a certificate signed by another key is refused even when that
// key verified it.
func TestPrecheckedKeyMustBeTheAuthors(t *testing.T) {
	f := newFixture(t)
	bob := f.enrol(ProfileStandard, "bob@x")
	mallory := newMember(t)
	// Signed by mallory's key, claiming bob's device as author.
	forged := f.sign(mallory.key, bob.device, VaultCreated{VaultID: NewID(), EncryptedName: []byte("x"),
		Key: KeyBundle{Index: 1, Canary: []byte("c"), Commitment: make([]byte, 32), Sealed: []SealedKey{{UserID: bob.user, Sealed: []byte("k")}}}})[0]
	c, err := Parse(forged)
	if err != nil {
		t.Fatal(err)
	}
	pre := prechecked{parsed: true, c: c, key: mallory.key.Public(), verified: c.verify(mallory.key.Public()) == nil}
	if !pre.verified {
		t.Fatal("control: mallory's key verifies the forged certificate")
	}
	if _, err := f.org.applyPrechecked(f.org.Head.Position+1, forged, time.Time{}, pre); !errors.Is(err, ErrSignature) {
		t.Fatalf("a certificate verified with another key than its author's: %v, want ErrSignature", err)
	}
}
