package adversarial

import (
	"bytes"
	"slices"
	"testing"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/workspace"
)

// TestA14VaultForkDetected: the server forks a vault between two members
// (a backup restored between their writes: alice writes on one branch,
// carol on the other). As soon as one is shown an entry of the other's
// branch it refuses it (certificate.ErrFork), in the open vault and after
// reopening from disk, writes nothing, and keeps its head; the same holds
// the other way round. An entry written by a member on another branch of
// the organisation log is refused too (certificate.ErrFork) (SECURITY.md
// A14; SPEC.md §11.5 "Freshness and forks").
func TestA14VaultForkDetected(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a14", member{"carol", certificate.ProfileStandard, certificate.RoleContributor})
	av, cv := w.open(t, "alice"), w.open(t, "carol")
	put(t, av, "/common.txt", []byte("both see this"))
	mustSyncVault(t, cv)
	base := w.s.SnapshotAll()

	// Branch X: alice writes twice.
	put(t, av, "/x1.txt", []byte("alice's branch"))
	put(t, av, "/x2.txt", []byte("alice's branch"))
	aliceHead := av.Log().Head
	branchX := w.s.SnapshotAll()

	// Branch Y, from the common backup: carol writes three times.
	w.s.RestoreAll(base)
	for _, name := range []string{"/y1.txt", "/y2.txt", "/y3.txt"} {
		put(t, cv, name, []byte("carol's branch"))
	}
	carolHead := cv.Log().Head
	if carolHead.Position <= aliceHead.Position {
		t.Fatalf("Carol's branch at %d, Alice's at %d", carolHead.Position, aliceHead.Position)
	}

	// Alice is shown branch Y.
	wantErr(t, av.Sync(bg()), certificate.ErrFork)
	if _, err := av.Put(bg(), "/x3.txt", bytes.NewReader([]byte("on a fork")), nil); err == nil {
		t.Fatal("Alice wrote on a forked log")
	}
	if got := list(t, av, "/"); !slices.Equal(got, []string{"common.txt", "x1.txt", "x2.txt"}) {
		t.Fatalf("Alice lists %v", got)
	}
	w.vaultUnchanged(t, "alice", av, aliceHead)
	_, err := w.sess["alice"].OpenVault(bg(), w.vault)
	wantErr(t, err, certificate.ErrFork)
	w.vaultUnchanged(t, "alice", nil, aliceHead)
	if got := w.s.VaultHead(t, w.org, w.vault); !sameHead(got, carolHead) {
		t.Fatal("Alice wrote on Carol's branch")
	}

	// Carol is shown branch X, once it grows past her head (before that,
	// it is just shorter: a rollback).
	w.s.RestoreAll(branchX)
	wantErr(t, cv.Sync(bg()), certificate.ErrRollback)
	av = w.open(t, "alice")
	put(t, av, "/x3.txt", []byte("alice's branch"))
	put(t, av, "/x4.txt", []byte("alice's branch"))
	wantErr(t, cv.Sync(bg()), certificate.ErrFork)
	w.vaultUnchanged(t, "carol", cv, carolHead)
	_, err = w.sess["carol"].OpenVault(bg(), w.vault)
	wantErr(t, err, certificate.ErrFork)
	w.vaultUnchanged(t, "carol", nil, carolHead)

	// An entry whose writer verified another branch of the organisation
	// log: the organisation hash it carries is not the reader's.
	t.Run("writer on another organisation branch", func(t *testing.T) {
		av := w.open(t, "alice")
		head := av.Log().Head
		state := w.s.LogState(t, w.org)
		index, key := w.keys(t, "alice").Newest()
		body := w.draftEntry(t, state, w.dev["alice"].DeviceID, index)
		body.Writes = w.addFile(t, av.Log(), index, key, "from-another-branch.txt")
		body.OrganisationHash = bytes.Repeat([]byte{7}, len(body.OrganisationHash))
		serveVaultExtra(w.s, w.vault, signEntry(t, w.dev["alice"].SigningKey, body))
		defer w.s.ClearHooks()
		wantErr(t, av.Sync(bg()), certificate.ErrFork)
		w.vaultUnchanged(t, "alice", av, head)
	})
}

func mustSyncVault(t *testing.T, v *workspace.Vault) {
	t.Helper()
	if err := v.Sync(bg()); err != nil {
		t.Fatalf("honest vault sync: %v", err)
	}
}
