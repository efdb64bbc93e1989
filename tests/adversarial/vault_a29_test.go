package adversarial

import (
	"testing"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/vaultlog"
	"github.com/coffre/coffre/workspace"
)

// TestA29SuppressedCheckpointRetried: the server drops the checkpoint
// entry that follows the rotation when dave is removed, then appends an
// entry dave signs afterwards, claiming an organisation position from
// before his removal under the key he held. Readers (bob) refuse it: it is
// dated after his removal (vaultlog.ErrEntryRefused). And the next
// writer to prepare the vault (PrepareVault, which every command that
// opens a vault runs) writes the missing checkpoint, so no entry can
// claim a position before the rotation any more (SECURITY.md A29; SPEC.md
// §11.5, §11.7).
func TestA29SuppressedCheckpointRetried(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a29",
		member{"bob", certificate.ProfileStandard, certificate.RoleReader},
		member{"carol", certificate.ProfileStandard, certificate.RoleContributor},
		member{"dave", certificate.ProfileStandard, certificate.RoleContributor})
	av := w.open(t, "alice")
	put(t, av, "/genuine.txt", []byte("written by alice"))
	dv := w.open(t, "dave")
	bv := w.open(t, "bob") // a reader: it can't write the checkpoint
	daveIndex, daveKey := w.keys(t, "dave").Newest()
	beforeRemoval := w.s.LogState(t, w.org)

	// The server drops the checkpoint: the append goes to a vault that
	// does not exist.
	w.s.RewriteRequest(func(method string, req any) any {
		if r, ok := req.(*coffrev1.VaultAppendRequest); ok && r.GetVaultId() == w.vault {
			return &coffrev1.VaultAppendRequest{VaultId: certificate.NewID(), Entry: r.GetEntry()}
		}
		return req
	})
	if err := w.sess["alice"].UnshareVault(bg(), w.vault, "dave@example.org"); err == nil {
		t.Fatal("the checkpoint was not dropped")
	}
	w.s.ClearHooks()
	rotation := w.s.LogState(t, w.org).Head.Position
	mustSync(t, w.sess["bob"])
	mustSyncVault(t, bv)
	head := bv.Log().Head
	if bv.Log().LastOrganisationPosition() >= rotation {
		t.Fatalf("a checkpoint landed: the vault log claims %d", bv.Log().LastOrganisationPosition())
	}

	dave := w.dev["dave"]
	entry := w.forgeAddFile(t, dv.Log(), beforeRemoval, dave.DeviceID, dave.SigningKey, daveIndex, daveKey, "from-dave.txt")
	w.s.AppendVaultRaw(t, w.org, w.vault, entry)
	_, err := bv.Log().Clone().Apply(w.sess["bob"].Organisation(), w.keys(t, "bob"), head.Position+1, entry)
	wantErr(t, err, vaultlog.ErrEntryRefused)
	_, err = w.sess["bob"].OpenVault(bg(), w.vault)
	wantErr(t, err, vaultlog.ErrEntryRefused)
	w.vaultUnchanged(t, "bob", nil, head)
	w.s.TruncateVaultLog(t, w.org, w.vault, head.Position)
	// Opening it, a reader can't tell a dropped checkpoint from withheld
	// entries, and says so (SECURITY.md A30).
	_, err = w.sess["bob"].OpenVault(bg(), w.vault)
	wantErr(t, err, workspace.ErrWithheld)

	// Carol, a contributor, opens the vault to read: that writes nothing.
	mustSync(t, w.sess["carol"])
	_, err = w.sess["carol"].OpenVault(bg(), w.vault)
	wantErr(t, err, workspace.ErrWithheld)
	wantErr(t, err, client.ErrCheckpointDue)
	// Carol prepares the vault (w.open): she writes the checkpoint.
	cv := w.open(t, "carol")
	if got := cv.Log().LastOrganisationPosition(); got < rotation {
		t.Fatalf("opening the vault did not write the checkpoint: the log claims %d, the rotation is at %d", got, rotation)
	}
	if cv.Log().Head.Position != head.Position+1 {
		t.Fatalf("vault head %d, want one checkpoint after %d", cv.Log().Head.Position, head.Position)
	}
	// Opening again writes nothing more.
	cv = w.open(t, "carol")
	if cv.Log().Head.Position != head.Position+1 {
		t.Fatalf("a second checkpoint: head %d", cv.Log().Head.Position)
	}
	w.open(t, "bob")
}
