package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/wire"
)

func TestStorageQuota(t *testing.T) {
	ts, admin := startBootstrapped(t)
	vault := ts.createVault(t, admin, nil, time.Time{})
	if err := ts.srv.cfg.Store.SetLimits(context.Background(), ts.orgID, store.Limits{StorageBytes: 250}); err != nil {
		t.Fatal(err)
	}
	// Blocks of 100 bytes: two fit, the third doesn't.
	for i := range 2 {
		if err := ts.putBlock(t, admin, vault); err != nil {
			t.Fatalf("block %d under the quota: %v", i, err)
		}
	}
	if err := ts.putBlock(t, admin, vault); !errors.Is(err, wire.ErrStorageQuota) {
		t.Fatalf("block over the quota: got %v, want ErrStorageQuota", err)
	}
	org, _ := ts.srv.cfg.Store.Organisation(context.Background(), ts.orgID)
	if org.UsedBytes != 200 {
		t.Fatalf("usage %d bytes after two 100-byte blocks and a refused one, want 200", org.UsedBytes)
	}
}

func TestUserLimit(t *testing.T) {
	ts, admin := startBootstrapped(t)
	if err := ts.srv.cfg.Store.SetLimits(context.Background(), ts.orgID, store.Limits{Users: 2}); err != nil {
		t.Fatal(err)
	}
	bob := ts.enrol(t, admin, certificate.ProfileStandard) // 2 active users: the limit
	d := newDevice(t)
	seal, _ := crypto.GenerateSealKey()
	err := ts.publish(t, admin, certificate.UserCreated{UserID: d.user, Email: "c@x", Profile: certificate.ProfileStandard, SealKey: seal.Public()})
	if !errors.Is(err, wire.ErrUserLimit) {
		t.Fatalf("a third user with a limit of 2: got %v, want ErrUserLimit", err)
	}
	// Revoking someone makes room.
	if err := ts.publish(t, admin, certificate.UserRevoked{UserID: bob.user}); err != nil {
		t.Fatal(err)
	}
	if err := ts.publish(t, admin, certificate.UserCreated{UserID: d.user, Email: "c@x", Profile: certificate.ProfileStandard, SealKey: seal.Public()}); err != nil {
		t.Fatalf("a user after a revocation made room: %v", err)
	}
}

// TestStorageQuotaLargeBlock: a block stored as a file, written while its
// reservation runs (store.GatedPutter), is not stored when the reservation
// is refused, and counts nothing.
func TestStorageQuotaLargeBlock(t *testing.T) {
	ts, admin := startBootstrapped(t)
	vault := ts.createVault(t, admin, nil, time.Time{})
	const size = 300 << 10 // above the small blocks' bound: a file
	if err := ts.srv.cfg.Store.SetLimits(context.Background(), ts.orgID, store.Limits{StorageBytes: 500 << 10}); err != nil {
		t.Fatal(err)
	}
	put := func() (string, error) {
		req := &coffrev1.PutBlockRequest{VaultId: vault, BlockId: certificate.NewID(), Data: crypto.RandomBytes(size)}
		_, err := ts.api.PutBlock(ts.signed(t, admin, coffrev1.CoffreService_PutBlock_FullMethodName, time.Now(), req), req)
		return req.BlockId, wire.FromStatus(err)
	}
	if _, err := put(); err != nil {
		t.Fatalf("block under the quota: %v", err)
	}
	id, err := put()
	if !errors.Is(err, wire.ErrStorageQuota) {
		t.Fatalf("block over the quota: got %v, want ErrStorageQuota", err)
	}
	if _, err := ts.srv.cfg.Blocks.GetBlock(context.Background(), ts.orgID, vault, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("block refused for the quota: GetBlock %v, want ErrNotFound", err)
	}
	org, _ := ts.srv.cfg.Store.Organisation(context.Background(), ts.orgID)
	if org.UsedBytes != size {
		t.Fatalf("usage %d bytes after one block of %d and a refused one", org.UsedBytes, size)
	}
}
