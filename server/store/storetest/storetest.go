// Package storetest is the conformance suite every store.Store backend
// passes (STYLE.md: one suite for the embedded store, PostgreSQL and any
// other). A backend's test calls Run:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Backend{
//			Open:       func(t *testing.T) store.Store { ... a new, empty store ... },
//			OpenBackup: func(t *testing.T, b []byte) store.Store { ... a store restored from b ... },
//		})
//	}
//
// A store.BlockStore backend's test calls RunBlocks (blocks.go).
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coffre/coffre/server/store"
)

// Backend tells the suite how to get stores of one kind.
type Backend struct {
	// Open returns a new, empty store. The suite closes it; removing what
	// it leaves behind is Open's business (t.TempDir, t.Cleanup).
	Open func(t *testing.T) store.Store
	// OpenBackup returns a new store of the same kind restored from what
	// Backup wrote: only the backend knows how. If nil, the backup test
	// only checks that Backup writes something.
	OpenBackup func(t *testing.T, backup []byte) store.Store
	// TimePrecision is how finely the backend keeps times: zero means to
	// the nanosecond, PostgreSQL would say time.Microsecond. At most a
	// second.
	TimePrecision time.Duration
}

// Run runs the whole suite against b, each test on a fresh store.
func Run(t *testing.T, b Backend) {
	if b.Open == nil || b.TimePrecision > time.Second {
		t.Fatal("storetest: Backend.Open is nil or TimePrecision is over a second")
	}
	s := suite{b}
	for _, tc := range []struct {
		name string
		test func(*testing.T)
	}{
		{"Organisations", s.testOrganisations},
		{"Limits", s.testLimits},
		{"Bootstrap", s.testBootstrap},
		{"AppendLog", s.testAppendLog},
		{"AppendLogSpend", s.testAppendLogSpend},
		{"ReadLog", s.testReadLog},
		{"ConcurrentAppend", s.testConcurrentAppend},
		{"VaultLog", s.testVaultLog},
		{"ReadVaultLog", s.testReadVaultLog},
		{"ConcurrentVaultAppend", s.testConcurrentVaultAppend},
		{"VaultIsolation", s.testVaultIsolation},
		{"BlockRefs", s.testBlockRefs},
		{"BlockRefsIsolation", s.testBlockRefsIsolation},
		{"FolderPages", s.testFolderPages},
		{"ConcurrentCondemn", s.testConcurrentCondemn},
		{"Invitations", s.testInvitations},
		{"UpdateInvitation", s.testUpdateInvitation},
		{"Connections", s.testConnections},
		{"ConcurrentConnections", s.testConcurrentConnections},
		{"UnknownOrganisation", s.testUnknownOrganisation},
		{"Isolation", s.testIsolation},
		{"CancelledContext", s.testCancelledContext},
		{"Backup", s.testBackup},
	} {
		t.Run(tc.name, tc.test)
	}
}

type suite struct{ Backend }

// open returns a fresh store, closed when the test ends.
func (s suite) open(t *testing.T) store.Store {
	t.Helper()
	st := s.Open(t)
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return st
}

// base is the suite's clock: nanoseconds included, so that a backend that
// drops them is caught.
var base = time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.UTC)

func at(seconds int) time.Time { return base.Add(time.Duration(seconds) * time.Second) }

// tokenHash stands for SHA-256 of a token; the store only compares it.
func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// genesis is the PrevHash of entry 1: the caller's choice, which the store
// must keep as given.
var genesis = tokenHash("storetest genesis")

// chain returns entries for datas following head, each hash being
// SHA-256(PrevHash, Data) as a caller would compute it.
func chain(head store.Head, datas ...string) []store.LogEntry {
	prev := head.Hash
	if head.Position == 0 {
		prev = genesis
	}
	var entries []store.LogEntry
	for i, d := range datas {
		pos := head.Position + uint64(i) + 1
		h := sha256.Sum256(append(append([]byte(nil), prev...), d...))
		entries = append(entries, store.LogEntry{Position: pos, PrevHash: prev, Hash: h[:], Data: []byte(d), ReceivedAt: at(int(pos))})
		prev = h[:]
	}
	return entries
}

func headOf(entries []store.LogEntry) store.Head {
	last := entries[len(entries)-1]
	return store.Head{Position: last.Position, Hash: last.Hash}
}

func newOrg(id string) store.Organisation {
	return store.Organisation{ID: id, Name: "Org " + id, BootstrapTokenHash: tokenHash("token " + id), CreatedAt: at(0)}
}

// mustOrg creates organisation id in st.
func mustOrg(t *testing.T, st store.Store, id string) store.Organisation {
	t.Helper()
	org := newOrg(id)
	if err := st.CreateOrganisation(t.Context(), org); err != nil {
		t.Fatalf("CreateOrganisation(%s): %v", id, err)
	}
	return org
}

// mustAppend appends datas at the end of log l.
func mustAppend(t *testing.T, st store.Store, l logRef, datas ...string) []store.LogEntry {
	t.Helper()
	head := mustHead(t, st, l)
	entries := chain(head, datas...)
	if _, err := l.append(t.Context(), st, entries); err != nil {
		t.Fatalf("%s after head %d: %v", l.call("AppendLog"), head.Position, err)
	}
	return entries
}

func mustHead(t *testing.T, st store.Store, l logRef) store.Head {
	t.Helper()
	head, err := l.head(t.Context(), st)
	if err != nil {
		t.Fatalf("%s: %v", l.call("LogHead"), err)
	}
	return head
}

// wantErr fails the test unless err is target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// wantLog fails the test unless the whole of log l is want.
func (s suite) wantLog(t *testing.T, st store.Store, l logRef, what string, want []store.LogEntry) {
	t.Helper()
	got, err := l.read(t.Context(), st, 1, len(want)+10)
	if err != nil {
		t.Fatalf("%s: %s: %v", what, l.call("ReadLog"), err)
	}
	if d := s.diffEntries(got, want); d != "" {
		t.Fatalf("%s: %s: %s", what, l, d)
	}
	wantHead := store.Head{}
	if len(want) > 0 {
		wantHead = headOf(want)
	}
	if head := mustHead(t, st, l); head.Position != wantHead.Position || !bytes.Equal(head.Hash, wantHead.Hash) {
		t.Fatalf("%s: %s = %d %x, want %d %x", what, l.call("LogHead"), head.Position, head.Hash, wantHead.Position, wantHead.Hash)
	}
}

func (s suite) sameTime(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() == b.IsZero()
	}
	return a.Sub(b).Abs() <= s.TimePrecision
}

// diff returns "" or the first field that differs between got and want.
type field struct {
	name      string
	got, want any
}

func (s suite) diff(fields ...field) string {
	for _, f := range fields {
		var same bool
		switch g := f.got.(type) {
		case []byte:
			same = bytes.Equal(g, f.want.([]byte))
		case time.Time:
			same = s.sameTime(g, f.want.(time.Time))
		default:
			same = f.got == f.want
		}
		if !same {
			return fmt.Sprintf("%s is %s, want %s", f.name, show(f.got), show(f.want))
		}
	}
	return ""
}

func show(v any) string {
	switch v := v.(type) {
	case []byte:
		if len(v) > 40 {
			return fmt.Sprintf("%d bytes %x...", len(v), v[:16])
		}
		return fmt.Sprintf("%x (%d bytes)", v, len(v))
	case time.Time:
		return v.Format(time.RFC3339Nano)
	case string, store.InvitationState:
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprint(v)
}

func (s suite) diffOrg(got, want store.Organisation) string {
	return s.diff(
		field{"ID", got.ID, want.ID}, field{"Name", got.Name, want.Name},
		field{"BootstrapTokenHash", got.BootstrapTokenHash, want.BootstrapTokenHash},
		field{"RootVerifyKey", got.RootVerifyKey, want.RootVerifyKey},
		field{"CreatedAt", got.CreatedAt, want.CreatedAt}, field{"BootstrappedAt", got.BootstrappedAt, want.BootstrappedAt},
	)
}

func (s suite) diffEntries(got, want []store.LogEntry) string {
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		if d := s.diff(
			field{"Position", g.Position, w.Position}, field{"PrevHash", g.PrevHash, w.PrevHash},
			field{"Hash", g.Hash, w.Hash}, field{"Data", g.Data, w.Data}, field{"ReceivedAt", g.ReceivedAt, w.ReceivedAt},
		); d != "" {
			return fmt.Sprintf("entry %d (position %d): %s", i, w.Position, d)
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("%d entries, want %d", len(got), len(want))
	}
	return ""
}

func (s suite) diffInvitation(got, want store.Invitation) string {
	return s.diff(
		field{"ID", got.ID, want.ID}, field{"OrgID", got.OrgID, want.OrgID}, field{"TokenHash", got.TokenHash, want.TokenHash},
		field{"Kind", got.Kind, want.Kind}, field{"Email", got.Email, want.Email}, field{"UserID", got.UserID, want.UserID},
		field{"Profile", got.Profile, want.Profile}, field{"CreatedBy", got.CreatedBy, want.CreatedBy},
		field{"CreatedAt", got.CreatedAt, want.CreatedAt}, field{"ExpiresAt", got.ExpiresAt, want.ExpiresAt},
		field{"State", got.State, want.State}, field{"Attempts", got.Attempts, want.Attempts},
	)
}

func (s suite) diffConnections(got, want []store.Connection) string {
	for i := range min(len(got), len(want)) {
		if d := s.diffConnection(got[i], want[i]); d != "" {
			return fmt.Sprintf("connection %d: %s", i, d)
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("%d connections, want %d", len(got), len(want))
	}
	return ""
}

func (s suite) diffConnection(got, want store.Connection) string {
	return s.diff(field{"DeviceID", got.DeviceID, want.DeviceID}, field{"Time", got.Time, want.Time}, field{"Address", got.Address, want.Address})
}

// testUnknownOrganisation checks every per-organisation method on an id
// that was never created.
func (s suite) testUnknownOrganisation(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	mustOrg(t, st, "known")
	calls := map[string]func() error{
		"Organisation": func() error { _, err := st.Organisation(ctx, "nope"); return err },
		"Bootstrap":    func() error { return st.Bootstrap(ctx, "nope", tokenHash("token nope"), []byte("root"), nil, at(1)) },
		"AppendLog":    func() error { _, err := st.AppendLog(ctx, "nope", chain(store.Head{}, "a"), "", at(1)); return err },
		"ReadLog":      func() error { _, err := st.ReadLog(ctx, "nope", 1, 10); return err },
		"LogHead":      func() error { _, err := st.LogHead(ctx, "nope"); return err },
		"AppendVaultLog": func() error {
			_, err := st.AppendVaultLog(ctx, "nope", "vault", chain(store.Head{}, "a"), at(1))
			return err
		},
		"ReadVaultLog": func() error { _, err := st.ReadVaultLog(ctx, "nope", "vault", 1, 10); return err },
		"VaultLogHead": func() error { _, err := st.VaultLogHead(ctx, "nope", "vault"); return err },
		"CreateInvitation": func() error {
			return st.CreateInvitation(ctx, newInvitation("nope", "inv", 1))
		},
		"Invitation":        func() error { _, err := st.Invitation(ctx, "nope", "inv"); return err },
		"InvitationByToken": func() error { _, err := st.InvitationByToken(ctx, "nope", tokenHash("inv")); return err },
		"Invitations":       func() error { _, err := st.Invitations(ctx, "nope"); return err },
		"UpdateInvitation": func() error {
			_, err := st.UpdateInvitation(ctx, "nope", "inv", func(*store.Invitation) error { return nil })
			return err
		},
		"RecordConnection": func() error {
			_, err := st.RecordConnection(ctx, "nope", store.Connection{DeviceID: "d", Time: at(1), Address: "a"})
			return err
		},
		"Connections": func() error { _, err := st.Connections(ctx, "nope", "", 10); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s on an unknown organisation: got error %v, want %v", name, err, store.ErrNotFound)
		}
	}
	if orgs, err := st.Organisations(ctx); err != nil || len(orgs) != 1 {
		t.Errorf("after calls on an unknown organisation, Organisations = %d, %v; want only %q", len(orgs), err, "known")
	}
}

// testIsolation checks that one organisation sees nothing of another's.
func (s suite) testIsolation(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	mustOrg(t, st, "a")
	mustOrg(t, st, "b")
	logA := mustAppend(t, st, orgLog("a"), "a1", "a2", "a3")
	logB := mustAppend(t, st, orgLog("b"), "b1")
	s.wantLog(t, st, orgLog("a"), "after appending to a and b", logA)
	s.wantLog(t, st, orgLog("b"), "after appending to a and b", logB)

	invA := newInvitation("a", "only-in-a", 1)
	if err := st.CreateInvitation(ctx, invA); err != nil {
		t.Fatalf("CreateInvitation(a): %v", err)
	}
	// The same id in another organisation is a different invitation.
	invB := newInvitation("b", "shared-id", 2)
	invA2 := newInvitation("a", "shared-id", 3)
	invA2.TokenHash = tokenHash("another token")
	for _, inv := range []store.Invitation{invB, invA2} {
		if err := st.CreateInvitation(ctx, inv); err != nil {
			t.Fatalf("CreateInvitation(%s, %s) when the id exists only in another organisation: %v", inv.OrgID, inv.ID, err)
		}
	}
	_, err := st.Invitation(ctx, "b", "only-in-a")
	wantErr(t, "Invitation(b) of an invitation of a", err, store.ErrNotFound)
	_, err = st.InvitationByToken(ctx, "b", invA.TokenHash)
	wantErr(t, "InvitationByToken(b) with a token of a", err, store.ErrNotFound)
	if invs, err := st.Invitations(ctx, "b"); err != nil || len(invs) != 1 || invs[0].ID != "shared-id" {
		t.Fatalf("Invitations(b) = %v, %v; want only shared-id", invs, err)
	}
	if _, err := st.UpdateInvitation(ctx, "b", "shared-id", func(i *store.Invitation) error { i.State = store.InvitationCancelled; return nil }); err != nil {
		t.Fatalf("UpdateInvitation(b, shared-id): %v", err)
	}
	if got, err := st.Invitation(ctx, "a", "shared-id"); err != nil || got.State != store.InvitationPending {
		t.Fatalf("after cancelling b's shared-id, a's is %q, %v; want pending", got.State, err)
	}

	if _, err := st.RecordConnection(ctx, "a", store.Connection{DeviceID: "dev", Time: at(1), Address: "10.0.0.1"}); err != nil {
		t.Fatalf("RecordConnection(a): %v", err)
	}
	prev, err := st.RecordConnection(ctx, "b", store.Connection{DeviceID: "dev", Time: at(2), Address: "10.0.0.2"})
	if err != nil || prev != (store.Connection{}) {
		t.Fatalf("RecordConnection(b) after a connection of the same device id in a: previous = %+v, %v; want none", prev, err)
	}
	if conns, err := st.Connections(ctx, "b", "", 10); err != nil || len(conns) != 1 {
		t.Fatalf("Connections(b) = %+v, %v; want only b's", conns, err)
	}
}

// testCancelledContext checks that a cancelled call does nothing.
func (s suite) testCancelledContext(t *testing.T) {
	st := s.open(t)
	mustOrg(t, st, "org")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := st.AppendLog(ctx, "org", chain(store.Head{}, "x"), "", at(1))
	wantErr(t, "AppendLog with a cancelled context", err, context.Canceled)
	s.wantLog(t, st, orgLog("org"), "after AppendLog with a cancelled context", nil)
	_, err = st.AppendVaultLog(ctx, "org", "vault", chain(store.Head{}, "x"), at(1))
	wantErr(t, "AppendVaultLog with a cancelled context", err, context.Canceled)
	s.wantLog(t, st, vaultLog("org", "vault"), "after AppendVaultLog with a cancelled context", nil)
	_, err = st.RecordConnection(ctx, "org", store.Connection{DeviceID: "d", Time: at(1)})
	wantErr(t, "RecordConnection with a cancelled context", err, context.Canceled)
}

// testBackup checks that a backup restores to the state it was taken in.
func (s suite) testBackup(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	orgs := []store.Organisation{mustOrg(t, st, "a"), mustOrg(t, st, "b")}
	logA := mustAppend(t, st, orgLog("a"), "a1", "a2")
	vaultA := mustAppend(t, st, vaultLog("a", "vault"), "vault 1", "vault 2", "vault 3")
	inv := newInvitation("a", "inv", 1)
	if err := st.CreateInvitation(ctx, inv); err != nil {
		t.Fatalf("CreateInvitation: %v", err)
	}
	conn := store.Connection{DeviceID: "dev", Time: at(5), Address: "192.0.2.1:443"}
	if _, err := st.RecordConnection(ctx, "a", conn); err != nil {
		t.Fatalf("RecordConnection: %v", err)
	}

	var buf bytes.Buffer
	if err := st.Backup(ctx, &buf); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if buf.Len() == 0 {
		t.Fatal("Backup wrote nothing")
	}
	// The store stays usable, and what happens now is not in the backup.
	mustAppend(t, st, orgLog("a"), "after backup")
	mustAppend(t, st, vaultLog("a", "vault"), "after backup")
	mustAppend(t, st, vaultLog("b", "vault"), "after backup")
	if s.OpenBackup == nil {
		t.Skip("Backend.OpenBackup is nil: cannot check what the backup holds")
	}
	restored := s.OpenBackup(t, buf.Bytes())
	t.Cleanup(func() { restored.Close() })

	got, err := restored.Organisations(ctx)
	if err != nil || len(got) != len(orgs) {
		t.Fatalf("restored Organisations = %d, %v; want %d", len(got), err, len(orgs))
	}
	for i := range orgs {
		if d := s.diffOrg(got[i], orgs[i]); d != "" {
			t.Fatalf("restored organisation %s: %s", orgs[i].ID, d)
		}
	}
	s.wantLog(t, restored, orgLog("a"), "restored from backup", logA)
	s.wantLog(t, restored, orgLog("b"), "restored from backup", nil)
	s.wantLog(t, restored, vaultLog("a", "vault"), "restored from backup", vaultA)
	s.wantLog(t, restored, vaultLog("b", "vault"), "restored from backup", nil)
	gotInv, err := restored.Invitation(ctx, "a", "inv")
	if err != nil {
		t.Fatalf("restored Invitation: %v", err)
	}
	if d := s.diffInvitation(gotInv, inv); d != "" {
		t.Fatalf("restored invitation: %s", d)
	}
	conns, err := restored.Connections(ctx, "a", "", 10)
	if err != nil {
		t.Fatalf("restored Connections: %v", err)
	}
	if d := s.diffConnections(conns, []store.Connection{conn}); d != "" {
		t.Fatalf("restored connections: %s", d)
	}
	// A restored store is a working store.
	mustAppend(t, restored, orgLog("a"), "after restore")
	mustAppend(t, restored, vaultLog("a", "vault"), "after restore")
}
