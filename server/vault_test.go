package server

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server/store/boltstore"
	"github.com/coffre/coffre/vaultlog"
	"github.com/coffre/coffre/wire"
	"github.com/coffre/coffre/workspace"
)

// member enrols a user whose seal key the test keeps.
func (ts *testServer) member(t *testing.T, admin device, p certificate.Profile) (device, *certificate.User) {
	t.Helper()
	d := ts.enrol(t, admin, p)
	u, _ := ts.org.User(d.user)
	return d, u
}

// createVault creates a vault owned by owner and shares it with others.
func (ts *testServer) createVault(t *testing.T, owner device, shares map[*certificate.User]certificate.Role, until time.Time) string {
	t.Helper()
	id := certificate.NewID()
	me, _ := ts.org.User(owner.user)
	key, bundle, err := workspace.NewKeyBundle(ts.orgID, id, 1, []*certificate.User{me}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stmts := []certificate.Statement{certificate.VaultCreated{VaultID: id, EncryptedName: workspace.EncryptName(ts.orgID, id, 1, key, "v"), Key: bundle}}
	for u, r := range shares {
		sealed, err := workspace.SealKeyTo(ts.orgID, id, 1, u, key)
		if err != nil {
			t.Fatal(err)
		}
		stmts = append(stmts, certificate.VaultRoleSet{VaultID: id, UserID: u.ID, Role: r, Until: until,
			Key: &certificate.SealedKey{UserID: u.ID, Sealed: sealed}, KeyIndex: 1})
	}
	if err := ts.publish(t, owner, stmts...); err != nil {
		t.Fatal(err)
	}
	return id
}

func (ts *testServer) putBlock(t *testing.T, d device, vault string) error {
	req := &coffrev1.PutBlockRequest{VaultId: vault, BlockId: certificate.NewID(), Data: crypto.RandomBytes(100)}
	_, err := ts.api.PutBlock(ts.signed(t, d, coffrev1.CoffreService_PutBlock_FullMethodName, time.Now(), req), req)
	return wire.FromStatus(err)
}

func (ts *testServer) readVault(t *testing.T, d device, vault string) error {
	req := &coffrev1.VaultReadRequest{VaultId: vault, From: 1}
	_, err := ts.api.VaultRead(ts.signed(t, d, coffrev1.CoffreService_VaultRead_FullMethodName, time.Now(), req), req)
	return wire.FromStatus(err)
}

func TestVaultRolesEnforcedByServer(t *testing.T) {
	ts, admin := startBootstrapped(t)
	reader, ru := ts.member(t, admin, certificate.ProfileStandard)
	writer, wu := ts.member(t, admin, certificate.ProfileStandard)
	outsider, _ := ts.member(t, admin, certificate.ProfileStandard)
	vault := ts.createVault(t, admin, map[*certificate.User]certificate.Role{ru: certificate.RoleReader, wu: certificate.RoleContributor}, time.Time{})

	if err := ts.putBlock(t, admin, vault); err != nil {
		t.Fatalf("owner's block refused: %v", err)
	}
	if err := ts.putBlock(t, writer, vault); err != nil {
		t.Fatalf("contributor's block refused: %v", err)
	}
	if err := ts.putBlock(t, reader, vault); !errors.Is(err, wire.ErrForbidden) {
		t.Fatalf("reader writing a block: got %v, want ErrForbidden", err)
	}
	if err := ts.readVault(t, reader, vault); err != nil {
		t.Fatalf("reader reading: %v", err)
	}
	if err := ts.readVault(t, outsider, vault); !errors.Is(err, wire.ErrForbidden) {
		t.Fatalf("non-member reading: got %v, want ErrForbidden", err)
	}
	if err := ts.readVault(t, admin, certificate.NewID()); !errors.Is(err, wire.ErrNotFound) {
		t.Fatalf("unknown vault: got %v", err)
	}
}

func TestGrantEndsOnTheServerClock(t *testing.T) {
	ts, admin := startBootstrapped(t)
	locum, lu := ts.member(t, admin, certificate.ProfileStandard)
	vault := ts.createVault(t, admin, map[*certificate.User]certificate.Role{lu: certificate.RoleContributor}, time.Now().Add(time.Hour))
	if err := ts.readVault(t, locum, vault); err != nil {
		t.Fatalf("locum refused during the grant: %v", err)
	}
	ts.clock.advance(2 * time.Hour)
	// The request is signed at the server's (moved) time, so it passes
	// authentication; the grant has ended by then.
	req := &coffrev1.VaultReadRequest{VaultId: vault, From: 1}
	_, err := ts.api.VaultRead(ts.signed(t, locum, coffrev1.CoffreService_VaultRead_FullMethodName, ts.clock.now(), req), req)
	if !errors.Is(wire.FromStatus(err), wire.ErrForbidden) {
		t.Fatalf("locum after the end of the grant: got %v, want ErrForbidden", err)
	}
	// The owner's blocks are refused too until the key is rotated: the
	// locum held the newest key.
	reqB := &coffrev1.VaultAppendRequest{VaultId: vault, Entry: []byte("x")}
	_, err = ts.api.VaultAppend(ts.signed(t, admin, coffrev1.CoffreService_VaultAppend_FullMethodName, ts.clock.now(), reqB), reqB)
	if !errors.Is(wire.FromStatus(err), vaultlog.ErrRotationPending) {
		t.Fatalf("write before rotating after a grant ended: got %v, want ErrRotationPending", err)
	}
}

// appendEntry signs a one-write entry of d at pos after prev and appends
// it through ts; it returns the entry's hash.
func (ts *testServer) appendEntry(t *testing.T, d device, vaultID string, pos uint64, prev []byte, manifest string) ([]byte, error) {
	t.Helper()
	v, _ := ts.org.Vault(vaultID)
	data, err := vaultlog.SignEntry(d.key, &vaultlog.Entry{OrganisationID: ts.orgID, VaultID: vaultID, Author: d.id, Time: time.Now(),
		Position: pos, PreviousHash: prev, OrganisationPosition: ts.org.Head.Position, OrganisationHash: ts.org.Head.Hash,
		KeyIndex: v.KeyIndex(), Writes: []vaultlog.Write{{ManifestID: manifest, Version: 1}}, Manifests: []byte("sealed manifests")})
	if err != nil {
		t.Fatal(err)
	}
	req := &coffrev1.VaultAppendRequest{VaultId: vaultID, Entry: data}
	_, err = ts.api.VaultAppend(ts.signed(t, d, coffrev1.CoffreService_VaultAppend_FullMethodName, time.Now(), req), req)
	return vaultlog.EntryHash(prev, data), wire.FromStatus(err)
}

// TestVaultAppendThroughAnotherProcess: a process appends after the head
// it appended last without reading it again; when another process on the
// same store appended since, an entry built on that old head is refused
// as a conflict, nothing stored, and one built on the new head is checked
// against the entries the other process appended and stored.
func TestVaultAppendThroughAnotherProcess(t *testing.T) {
	a, admin := startBootstrapped(t)
	vaultID := a.createVault(t, admin, nil, time.Time{})
	b := serveStore(t, t.TempDir(), a.srv.cfg.Store.(*boltstore.Store), nil, nil)
	b.orgID, b.org = a.orgID, a.org

	h1, err := a.appendEntry(t, admin, vaultID, 1, vaultlog.VaultGenesis(a.orgID, vaultID), "0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatalf("the first entry through A: %v", err)
	}
	h2, err := b.appendEntry(t, admin, vaultID, 2, h1, "1123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatalf("the second entry through B: %v", err)
	}
	if _, err := a.appendEntry(t, admin, vaultID, 2, h1, "2123456789abcdef0123456789abcdef"); !errors.Is(err, certificate.ErrConflict) {
		t.Fatalf("an entry after the first, through A once B appended the second: %v, want ErrConflict", err)
	}
	// B's entry wrote version 1 of its manifest: a second version 1 of
	// it through A is refused, which A only knows by folding B's entry.
	if _, err := a.appendEntry(t, admin, vaultID, 3, h2, "1123456789abcdef0123456789abcdef"); !errors.Is(err, wire.ErrCertificateRefused) {
		t.Fatalf("version 1 again of B's manifest, through A: %v, want ErrCertificateRefused", err)
	}
	if _, err := a.appendEntry(t, admin, vaultID, 3, h2, "3123456789abcdef0123456789abcdef"); err != nil {
		t.Fatalf("an entry after B's, through A: %v", err)
	}
	head, err := a.srv.cfg.Store.VaultLogHead(t.Context(), a.orgID, vaultID)
	if err != nil || head.Position != 3 {
		t.Fatalf("the stored head: %+v, %v; want position 3", head, err)
	}
	entries, err := a.srv.cfg.Store.ReadVaultLog(t.Context(), a.orgID, vaultID, 2, 1)
	if err != nil || len(entries) != 1 || !bytes.Equal(entries[0].Hash, h2) {
		t.Fatalf("the stored entry at position 2 is not B's: %v", err)
	}
}
