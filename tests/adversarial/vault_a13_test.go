package adversarial

import (
	"testing"

	"github.com/coffre/coffre/certificate"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/vaultlog"
)

// TestA13VaultRollbackRefused: the server rolls back one file (its vault
// log cut before the file's last version), says its log is shorter than
// it is, or rolls back the whole server to an older backup (store and
// blocks). Every member who verified the newer state refuses it
// (certificate.ErrRollback), in the open vault and after reopening from
// disk; the verified head stays, on disk too, and what the member already
// verified stays readable. A server that claims entries it does not send
// is refused too (SECURITY.md A13; SPEC.md §11.5 "Sync", §7.3).
func TestA13VaultRollbackRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a13", member{"bob", certificate.ProfileStandard, certificate.RoleReader})
	av := w.open(t, "alice")
	put(t, av, "/f.txt", []byte("f, version 1"))
	put(t, av, "/f.txt", []byte("f, version 2"))
	snapshot := w.s.SnapshotAll()
	put(t, av, "/f.txt", []byte("f, version 3"))
	bv := w.open(t, "bob")
	head := bv.Log().Head
	original := w.s.VaultLog(t, w.org, w.vault)

	// One file rolled back: the entry with its last version dropped.
	t.Run("one file", func(t *testing.T) {
		w.s.TruncateVaultLog(t, w.org, w.vault, head.Position-1)
		wantErr(t, bv.Sync(bg()), certificate.ErrRollback)
		if got := string(get(t, bv, "/f.txt")); got != "f, version 3" {
			t.Fatalf("Bob reads %q after a refused rollback", got)
		}
		w.vaultUnchanged(t, "bob", bv, head)
		_, err := w.sess["bob"].OpenVault(bg(), w.vault)
		wantErr(t, err, certificate.ErrRollback)
		w.vaultUnchanged(t, "bob", nil, head)
		w.s.EditVaultLog(t, w.org, w.vault, func([][]byte) [][]byte { return original })
	})

	// In the answers: a shorter head, with or without older entries.
	bv = w.open(t, "bob")
	for name, rewrite := range map[string]func(*coffrev1.VaultReadResponse){
		"head one short": func(r *coffrev1.VaultReadResponse) { r.HeadPosition = head.Position - 1 },
		"head zero":      func(r *coffrev1.VaultReadResponse) { r.HeadPosition, r.Entries = 0, nil },
		"an older entry and a shorter head": func(r *coffrev1.VaultReadResponse) {
			r.HeadPosition = head.Position - 1
			r.Entries = []*coffrev1.LogEntry{{Position: head.Position - 1, Data: original[head.Position-2]}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			defer w.s.ClearHooks()
			rewriteVaultRead(w.s, w.vault, func(_ *coffrev1.VaultReadRequest, r *coffrev1.VaultReadResponse) { rewrite(r) })
			wantErr(t, bv.Sync(bg()), certificate.ErrRollback)
			if !sameHead(bv.Log().Head, head) {
				t.Fatal("head moved")
			}
		})
	}
	t.Run("entries claimed, none sent", func(t *testing.T) {
		defer w.s.ClearHooks()
		rewriteVaultRead(w.s, w.vault, func(_ *coffrev1.VaultReadRequest, r *coffrev1.VaultReadResponse) { r.HeadPosition += 2 })
		wantErr(t, bv.Sync(bg()), vaultlog.ErrEntryRefused)
		w.vaultUnchanged(t, "bob", bv, head)
	})

	// The whole server restored from a backup taken before f's last
	// version: both members refuse it.
	t.Run("whole server restored", func(t *testing.T) {
		av := w.open(t, "alice")
		aliceHead := av.Log().Head
		w.s.RestoreAll(snapshot)
		wantErr(t, av.Sync(bg()), certificate.ErrRollback)
		for _, name := range []string{"alice", "bob"} {
			mustSync(t, w.sess[name]) // the organisation log did not change
			_, err := w.sess[name].OpenVault(bg(), w.vault)
			wantErr(t, err, certificate.ErrRollback)
			w.vaultUnchanged(t, name, nil, aliceHead)
		}
		// Still refused after the restored server ran a while.
		w.s.Restart()
		_, err := w.sess["bob"].OpenVault(bg(), w.vault)
		wantErr(t, err, certificate.ErrRollback)
		w.vaultUnchanged(t, "bob", nil, head)
	})
}
