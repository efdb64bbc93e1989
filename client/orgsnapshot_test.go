package client

import (
	"bytes"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
)

// testLog is an organisation log signed here: the root key's bootstrap,
// then users created by the first admin's device.
type testLog struct {
	t       *testing.T
	root    *crypto.SigningKey
	org     *certificate.Organisation
	admin   *crypto.SigningKey
	adminID string
	now     time.Time
	entries []verifiedEntry
}

func newTestLog(t *testing.T) *testLog {
	t.Helper()
	root, _ := crypto.GenerateSigningKey()
	admin, _ := crypto.GenerateSigningKey()
	seal, _ := crypto.GenerateSealKey()
	l := &testLog{t: t, root: root, admin: admin, adminID: certificate.NewID(), now: time.Unix(1_800_000_000, 0),
		org: certificate.NewOrganisation(certificate.NewID(), root.Public())}
	user := certificate.NewID()
	l.append(root, "", certificate.UserCreated{UserID: user, Name: "Ann", Email: "ann@x", Profile: certificate.ProfileAdmin, SealKey: seal.Public()},
		certificate.DeviceAdded{DeviceID: l.adminID, UserID: user, Label: "laptop", VerifyKey: admin.Public()})
	return l
}

func (l *testLog) append(key *crypto.SigningKey, author string, stmts ...certificate.Statement) {
	l.t.Helper()
	l.now = l.now.Add(time.Second)
	certs, err := l.org.SignNext(key, author, l.now, stmts...)
	if err != nil {
		l.t.Fatal(err)
	}
	for _, c := range certs {
		p := l.org.Head.Position + 1
		if _, err := l.org.Apply(p, c); err != nil {
			l.t.Fatal(err)
		}
		l.entries = append(l.entries, verifiedEntry{position: p, data: c})
	}
}

// users appends n users created by the admin.
func (l *testLog) users(n int) {
	l.t.Helper()
	seal, _ := crypto.GenerateSealKey()
	for range n {
		id := certificate.NewID()
		l.append(l.admin, l.adminID, certificate.UserCreated{UserID: id, Name: id, Email: id + "@x", Profile: certificate.ProfileStandard, SealKey: seal.Public()})
	}
}

// lowSnapshotThresholds makes small logs worth a snapshot.
func lowSnapshotThresholds(t *testing.T) {
	minEntries, share := snapshotMinEntries, snapshotShare
	snapshotMinEntries, snapshotShare = 8, 1
	t.Cleanup(func() { snapshotMinEntries, snapshotShare = minEntries, share })
}

// TestOpenLoadsTheSnapshot: a state file written before snapshots (entries
// and head only) is verified whole once and gets a snapshot; the next
// load verifies nothing it covers, only the entries stored beyond it, and
// gives the same state as verifying everything.
func TestOpenLoadsTheSnapshot(t *testing.T) {
	lowSnapshotThresholds(t)
	l := newTestLog(t)
	l.users(40)
	path := filepath.Join(t.TempDir(), "state.db")
	key := crypto.NewSecretKey()
	st, err := openState(path, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.save(l.entries, l.org.Head); err != nil {
		t.Fatal(err)
	}

	st, _ = openState(path, key)
	org, verified, err := st.load(l.org.ID, l.org.Root)
	if err != nil || verified != len(l.entries) {
		t.Fatalf("a file without a snapshot: verified %d of %d entries (%v)", verified, len(l.entries), err)
	}
	if err := st.snapshotIfDue(org); err != nil || st.snapshotAt != org.Head.Position {
		t.Fatalf("upgrading: snapshot at %d, want %d (%v)", st.snapshotAt, org.Head.Position, err)
	}

	st, _ = openState(path, key)
	again, verified, err := st.load(l.org.ID, l.org.Root)
	if err != nil || verified != 0 {
		t.Fatalf("with a snapshot at the head: verified %d entries (%v), want 0", verified, err)
	}
	if !reflect.DeepEqual(again.Head, org.Head) || len(again.Users()) != len(org.Users()) {
		t.Fatalf("the snapshot gives head %d and %d users, verifying gives %d and %d",
			again.Head.Position, len(again.Users()), org.Head.Position, len(org.Users()))
	}

	// Entries stored beyond the snapshot are verified, and only they.
	before := len(l.entries)
	l.users(3)
	if err := st.save(l.entries[before:], l.org.Head); err != nil {
		t.Fatal(err)
	}
	st, _ = openState(path, key)
	beyond, verified, err := st.load(l.org.ID, l.org.Root)
	if err != nil || verified != 3 || beyond.Head.Position != l.org.Head.Position {
		t.Fatalf("3 entries beyond the snapshot: verified %d, head %d, want 3 and %d (%v)", verified, beyond.Head.Position, l.org.Head.Position, err)
	}
}

// sealedSnapshot reads the stored snapshot value; setSnapshot replaces it.
func sealedSnapshot(t *testing.T, st *localState) []byte {
	t.Helper()
	var v []byte
	st.db.View(func(tx *bolt.Tx) error {
		v = bytes.Clone(storedSnapshot(tx))
		return nil
	})
	if v == nil {
		t.Fatal("no snapshot stored")
	}
	return v
}

func setSnapshot(t *testing.T, st *localState, v []byte) {
	t.Helper()
	if err := st.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketSnapshot).Put(keySnapshot, v) }); err != nil {
		t.Fatal(err)
	}
}

// snapshotState stores a log of 20 users and its snapshot.
func snapshotState(t *testing.T) (*testLog, *localState) {
	t.Helper()
	lowSnapshotThresholds(t)
	l := newTestLog(t)
	l.users(20)
	st, err := openState(filepath.Join(t.TempDir(), "state.db"), crypto.NewSecretKey())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.save(l.entries, l.org.Head); err != nil {
		t.Fatal(err)
	}
	if err := st.saveSnapshot(l.org); err != nil {
		t.Fatal(err)
	}
	return l, st
}

// TestTamperedSnapshotRefused: the snapshot is sealed under the state key
// with its place, position and version as associated data, so a flipped
// byte anywhere in it, or a position changed in clear, is
// ErrCorruptState: nothing is loaded from it.
func TestTamperedSnapshotRefused(t *testing.T) {
	l, st := snapshotState(t)
	good := sealedSnapshot(t, st)
	for _, i := range []int{0, 7, 12, 13, len(good) / 2, len(good) - 1} {
		bad := bytes.Clone(good)
		bad[i] ^= 1
		setSnapshot(t, st, bad)
		if _, _, err := st.load(l.org.ID, l.org.Root); !errors.Is(err, ErrCorruptState) {
			t.Fatalf("byte %d of the snapshot flipped: %v, want ErrCorruptState", i, err)
		}
	}
	// The version in clear, changed: the snapshot is not used (the log is
	// verified whole, as without one); nothing in it is trusted.
	bad := bytes.Clone(good)
	bad[11] ^= 1
	setSnapshot(t, st, bad)
	if _, verified, err := st.load(l.org.ID, l.org.Root); err != nil || verified != len(l.entries) {
		t.Fatalf("the version in clear changed: verified %d of %d (%v), want all", verified, len(l.entries), err)
	}
	setSnapshot(t, st, good[:5])
	if _, _, err := st.load(l.org.ID, l.org.Root); !errors.Is(err, ErrCorruptState) {
		t.Fatalf("a truncated snapshot: %v, want ErrCorruptState", err)
	}
	setSnapshot(t, st, good)
	if _, verified, err := st.load(l.org.ID, l.org.Root); err != nil || verified != 0 {
		t.Fatalf("control: the snapshot as written: verified %d (%v)", verified, err)
	}
}

// TestSnapshotOfAnotherOrganisationRefused: a snapshot of another
// organisation, even sealed under this device's state key at the right
// place (only someone holding the key can do that), is refused: it names
// its organisation and root key, and the link's are checked.
func TestSnapshotOfAnotherOrganisationRefused(t *testing.T) {
	l, st := snapshotState(t)
	other := newTestLog(t)
	other.users(20)
	refuseSnapshot(t, l, st, other.org, "another organisation's snapshot")
	refuseSnapshot(t, l, st, certificate.NewOrganisation(l.org.ID, other.org.Root), "a snapshot under another root key")
}

// refuseSnapshot stores snap, sealed under the device's state key, and
// expects load to refuse it.
func refuseSnapshot(t *testing.T, l *testLog, st *localState, snap *certificate.Organisation, what string) {
	t.Helper()
	setSnapshot(t, st, st.sealSnapshot(snap))
	if _, _, err := st.load(l.org.ID, l.org.Root); !errors.Is(err, ErrCorruptState) {
		t.Fatalf("%s: %v, want ErrCorruptState", what, err)
	}
}

// TestSnapshotBeyondTheLogRefused: a snapshot whose head is not the stored
// log's (a state verified on another branch, or beyond what the file
// holds) is refused when saved and when loaded.
func TestSnapshotBeyondTheLogRefused(t *testing.T) {
	l, st := snapshotState(t)
	ahead := l.org.Clone()
	seal, _ := crypto.GenerateSealKey()
	certs, _ := ahead.SignNext(l.admin, l.adminID, l.now.Add(time.Hour), certificate.UserCreated{UserID: certificate.NewID(), Email: "late@x", Profile: certificate.ProfileStandard, SealKey: seal.Public()})
	if _, err := ahead.Apply(ahead.Head.Position+1, certs[0]); err != nil {
		t.Fatal(err)
	}
	if err := st.saveSnapshot(ahead); !errors.Is(err, ErrCorruptState) {
		t.Fatalf("saving a snapshot beyond the stored log: %v, want ErrCorruptState", err)
	}
	refuseSnapshot(t, l, st, ahead, "loading a snapshot beyond the stored head")
}

// TestSnapshotOfAnotherVersionReverified: a snapshot of another version is
// not used: the log is verified whole, and a snapshot of this version
// replaces it.
func TestSnapshotOfAnotherVersionReverified(t *testing.T) {
	l, st := snapshotState(t)
	// What a version 0 would have written: the same, numbered 0.
	data := l.org.Snapshot()
	data[1+len("coffre/org-snapshot")] = 0
	p := l.org.Head.Position
	prefix := append(posKey(p), 0, 0, 0, 0)
	setSnapshot(t, st, append(prefix, st.key.Encrypt(st.snapshotAAD(p, 0), data)...))
	st, _ = openState(st.path, st.key)
	org, verified, err := st.load(l.org.ID, l.org.Root)
	if err != nil || verified != len(l.entries) {
		t.Fatalf("a snapshot of version 0: verified %d of %d (%v)", verified, len(l.entries), err)
	}
	if err := st.snapshotIfDue(org); err != nil {
		t.Fatal(err)
	}
	st, _ = openState(st.path, st.key)
	if _, verified, err := st.load(l.org.ID, l.org.Root); err != nil || verified != 0 {
		t.Fatalf("after the upgrade: verified %d (%v), want 0", verified, err)
	}
}

// TestSnapshotInMetaMoved: a file written when the snapshot was kept in
// the meta bucket (beside the heads) still opens from it, and the next
// snapshot written goes to its own bucket and leaves none in meta.
func TestSnapshotInMetaMoved(t *testing.T) {
	l, st := snapshotState(t)
	good := sealedSnapshot(t, st)
	if err := st.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketSnapshot); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySnapshot, good)
	}); err != nil {
		t.Fatal(err)
	}
	if _, verified, err := st.load(l.org.ID, l.org.Root); err != nil || verified != 0 {
		t.Fatalf("a snapshot in meta: verified %d (%v), want 0", verified, err)
	}
	l.users(5)
	if err := st.save(l.entries, l.org.Head); err != nil {
		t.Fatal(err)
	}
	if err := st.saveSnapshot(l.org); err != nil {
		t.Fatal(err)
	}
	st.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta).Get(keySnapshot) != nil {
			t.Error("a snapshot is still in meta")
		}
		if b := tx.Bucket(bucketSnapshot); b == nil || b.Get(keySnapshot) == nil {
			t.Error("no snapshot in its bucket")
		}
		return nil
	})
	if snap, verified, err := st.load(l.org.ID, l.org.Root); err != nil || verified != 0 || snap.Head.Position != l.org.Head.Position {
		t.Fatalf("after the move: verified %d (%v), want 0", verified, err)
	}
}
