package adversarial

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/tests/hostile"
	"github.com/coffre/coffre/workspace"
)

// TestA31EqualLengthForkNamed: the server shows a member a branch of the
// same length as the one it verified, with another entry at its head — in
// a vault log (another member's write in place of the one it read) and in
// the organisation log (another admin's certificate in place of the one it
// read). Reading says "fork" at once (certificate.ErrFork, certificate.ErrFork)
// instead of succeeding silently, and writing says "fork" too instead of
// "log moved" forever (SECURITY.md A31; SPEC.md §4.4, §11.5).
func TestA31EqualLengthForkNamed(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a31",
		member{"bob", certificate.ProfileStandard, certificate.RoleContributor},
		member{"carol", certificate.ProfileAdmin, certificate.RoleContributor})
	av, bv := w.open(t, "alice"), w.open(t, "bob")
	put(t, av, "/common.txt", []byte("everyone saw this"))
	mustSyncVault(t, bv)
	base := w.s.SnapshotAll()

	t.Run("vault log", func(t *testing.T) {
		put(t, av, "/x.txt", []byte("alice's branch"))
		mustSyncVault(t, bv)
		bobHead := bv.Log().Head
		w.s.RestoreAll(base)
		w.carolForks(t, "bob", bv, bobHead, "carol's branch, same length")
		_, err := w.sess["bob"].OpenVault(bg(), w.vault)
		wantErr(t, err, certificate.ErrFork)
	})

	t.Run("organisation log", func(t *testing.T) {
		w.s.RestoreAll(base)
		alice, carol := w.reopen(t, "alice"), w.reopen(t, "carol")
		hostile.Enrol(t, alice, t.TempDir(), "user", "dave@example.org", certificate.ProfileStandard)
		mustSync(t, carol)
		orgBase := w.s.SnapshotAll()
		if _, err := alice.SetProfile(bg(), "dave@example.org", certificate.ProfileOutsider); err != nil {
			t.Fatal(err)
		}
		bob := w.reopen(t, "bob")
		mustSync(t, bob)
		bobHead := bob.Head()
		w.s.RestoreAll(orgBase)
		if _, err := carol.SetProfile(bg(), "dave@example.org", certificate.ProfileAdmin); err != nil {
			t.Fatal(err)
		}
		if got := headOf(t, w.s, w.org); got != bobHead.Position {
			t.Fatalf("server at %d, bob at %d", got, bobHead.Position)
		}
		wantErr(t, bob.Sync(bg()), certificate.ErrFork)
		_, err := bob.CreateVault(bg(), "on a fork")
		wantErr(t, err, certificate.ErrFork)
		unchanged(t, bob, w.dir["bob"], bobHead)
	})
}

// TestA31AuditVerifiesVaultLogs: 'coffre audit --verify' fetches again
// every vault log the device verified, not only the organisation log, and
// names the first position where the server's differs: a vault forked
// from position 2 (same length), or rolled back, is reported while the
// organisation log is intact (SECURITY.md A13, A31).
func TestA31AuditVerifiesVaultLogs(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a31 audit", member{"carol", certificate.ProfileStandard, certificate.RoleContributor})
	av := w.open(t, "alice")
	put(t, av, "/one.txt", []byte("1"))
	w.open(t, "carol")
	forkAt := w.s.VaultHead(t, w.org, w.vault).Position + 1
	base := w.s.SnapshotAll()
	put(t, av, "/two.txt", []byte("2"))
	put(t, av, "/three.txt", []byte("3"))
	alice := w.sess["alice"]
	rep, err := alice.VerifyAudit(bg())
	if err != nil || !rep.Consistent || rep.VaultsChecked != 1 {
		t.Fatalf("honest logs: %+v, %v; want consistent with one vault checked", rep, err)
	}

	w.s.RestoreAll(base)
	cv := w.open(t, "carol")
	put(t, cv, "/other-two.txt", []byte("2'"))
	put(t, cv, "/other-three.txt", []byte("3'"))
	rep, err = alice.VerifyAudit(bg())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Consistent || !strings.Contains(rep.Problem, fmt.Sprintf("fork: from position %d vault %s", forkAt, w.vault)) {
		t.Fatalf("a forked vault log: %+v, want a fork from position %d reported", rep, forkAt)
	}

	w.s.RestoreAll(base)
	rep, err = alice.VerifyAudit(bg())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Consistent || !strings.Contains(rep.Problem, fmt.Sprintf("rollback: vault %s's log ends at %d", w.vault, forkAt-1)) {
		t.Fatalf("a rolled-back vault log: %+v, want a rollback reported", rep)
	}
}

// TestA31WriterKeepsItsOwnEntry: a writer stores its own entry once the
// server accepts it, without reading it back (SPEC.md §11.5). A server
// that answered success and then put another member's entry at that
// position (here: dropped the write, then accepted carol's) gets "fork"
// from the writer's next sync and next write, never a silent switch to
// the other branch; a server that dropped it and shows the shorter log
// gets "rollback" (SECURITY.md A31).
func TestA31WriterKeepsItsOwnEntry(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a31-own",
		member{"carol", certificate.ProfileStandard, certificate.RoleContributor})
	av := w.open(t, "alice")
	put(t, av, "/common.txt", []byte("everyone saw this"))
	base := w.s.SnapshotAll()

	put(t, av, "/x.txt", []byte("accepted, then dropped"))
	aliceHead := av.Log().Head
	w.s.RestoreAll(base)
	wantErr(t, av.Sync(bg()), certificate.ErrRollback)

	w.carolForks(t, "alice", av, aliceHead, "carol's entry in its place")
}

// carolForks has carol write content at the position of name's head (the
// server having rolled back under it), then checks that name's device
// sees a fork, in a sync and in a write, and keeps its verified state.
func (w *world) carolForks(t *testing.T, name string, v *workspace.Vault, head certificate.Head, content string) {
	t.Helper()
	put(t, w.open(t, "carol"), "/y.txt", []byte(content))
	if got := w.s.VaultHead(t, w.org, w.vault); got.Position != head.Position || sameHead(got, head) {
		t.Fatalf("server at %d, %s at %d", got.Position, name, head.Position)
	}
	wantErr(t, v.Sync(bg()), certificate.ErrFork)
	_, err := v.Put(bg(), "/z.txt", bytes.NewReader([]byte("on a fork")), nil)
	wantErr(t, err, certificate.ErrFork)
	w.vaultUnchanged(t, name, v, head)
}
