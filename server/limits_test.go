package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
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
