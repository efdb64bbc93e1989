package hostile

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/vaultlog"
	"github.com/coffre/coffre/workspace"
)

// TestOpenVaultNeverWrites: opening a vault reads and verifies, and
// nothing else. A vault whose key must be rotated (a member was revoked)
// opens with no certificate, vault entry or block sent, and its writes are
// refused until the rotation; a vault whose log lacks its checkpoint is
// refused (workspace.ErrWithheld, client.ErrCheckpointDue) without
// writing it. PrepareVault does both writes, when asked (issue 11 item 4;
// SPEC.md §11.4, §11.5).
func TestOpenVaultNeverWrites(t *testing.T) {
	t.Parallel()
	s := Start(t)
	ctx := context.Background()
	base := t.TempDir()
	admin := Bootstrap(t, s, filepath.Join(base, "admin"))
	org := admin.Identity().OrganisationID
	Enrol(t, admin, filepath.Join(base, "bob"), "user", "bob@example.org", certificate.ProfileStandard)
	info, err := admin.CreateVault(ctx, "upkeep")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ShareVault(ctx, info.ID, "bob@example.org", certificate.RoleReader, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Revoke(ctx, "bob@example.org"); err != nil {
		t.Fatal(err)
	}

	heads := func() (orgHead, vaultHead uint64) {
		return s.LogState(t, org).Head.Position, s.VaultHead(t, org, info.ID).Position
	}
	// open opens the vault as the admin and checks that nothing was
	// written: no write call reached the server, and its heads stayed.
	open := func(t *testing.T) (*workspace.Vault, error) {
		t.Helper()
		orgBefore, vaultBefore := heads()
		rec := s.Record()
		v, err := admin.OpenVault(ctx, info.ID)
		s.StopRecording()
		for _, c := range rec.Calls() {
			switch c.Method {
			case coffrev1.CoffreService_AppendCertificates_FullMethodName,
				coffrev1.CoffreService_VaultAppend_FullMethodName,
				coffrev1.CoffreService_PutBlock_FullMethodName,
				coffrev1.CoffreService_PutBlocks_FullMethodName:
				t.Errorf("opening the vault called %s", c.Method)
			}
		}
		if o, vh := heads(); o != orgBefore || vh != vaultBefore {
			t.Errorf("opening the vault moved the heads: organisation %d → %d, vault %d → %d", orgBefore, o, vaultBefore, vh)
		}
		return v, err
	}

	t.Run("rotation due", func(t *testing.T) {
		v, err := open(t)
		if err != nil {
			t.Fatal(err)
		}
		if _, vi, _ := admin.FindVault(info.ID); !vi.NeedsRotation || vi.KeyIndex != 1 {
			t.Fatalf("key %d, rotation due %v: opening rotated", vi.KeyIndex, vi.NeedsRotation)
		}
		// Reading goes on; writing waits for the rotation.
		if _, err := v.Put(ctx, "/new.txt", strings.NewReader("not under bob's key"), nil); !errors.Is(err, vaultlog.ErrRotationPending) {
			t.Fatalf("a write before the rotation: %v", err)
		}
	})

	// PrepareVault rotates; the server drops the checkpoint that follows.
	s.RewriteRequest(func(_ string, req any) any {
		if r, ok := req.(*coffrev1.VaultAppendRequest); ok && r.GetVaultId() == info.ID {
			return &coffrev1.VaultAppendRequest{VaultId: certificate.NewID(), Entry: r.GetEntry()}
		}
		return req
	})
	_, done, err := admin.PrepareVault(ctx, info.ID)
	s.ClearHooks()
	if err == nil || !done.Rotated || done.Checkpointed {
		t.Fatalf("PrepareVault with the checkpoint dropped: %+v, %v", done, err)
	}

	t.Run("checkpoint due", func(t *testing.T) {
		v, err := open(t)
		if !errors.Is(err, workspace.ErrWithheld) || !errors.Is(err, client.ErrCheckpointDue) || v != nil {
			t.Fatalf("opened a vault without its checkpoint: %v", err)
		}
	})

	_, vaultBefore := heads()
	if _, done, err := admin.PrepareVault(ctx, info.ID); err != nil || done.Rotated || !done.Checkpointed {
		t.Fatalf("PrepareVault: %+v, %v", done, err)
	}
	if _, vh := heads(); vh != vaultBefore+1 {
		t.Fatalf("vault head %d after the checkpoint, want %d", vh, vaultBefore+1)
	}
	t.Run("prepared", func(t *testing.T) {
		if _, err := open(t); err != nil {
			t.Fatal(err)
		}
	})
}
