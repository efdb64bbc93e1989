package server

import (
	"bytes"
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

// putBlocks sends one PutBlocks of blocks of the given sizes and returns
// the request (block ids and data) and the call's error.
func (ts *testServer) putBlocks(t *testing.T, d device, vault string, sizes ...int) (*coffrev1.PutBlocksRequest, error) {
	t.Helper()
	req := &coffrev1.PutBlocksRequest{VaultId: vault}
	for _, n := range sizes {
		req.Blocks = append(req.Blocks, &coffrev1.BlockData{BlockId: certificate.NewID(), Data: crypto.RandomBytes(n)})
	}
	_, err := ts.api.PutBlocks(ts.signed(t, d, coffrev1.CoffreService_PutBlocks_FullMethodName, time.Now(), req), req)
	return req, wire.FromStatus(err)
}

// storedBlocks counts the blocks of req the server has, and fails the
// test on one whose bytes differ.
func (ts *testServer) storedBlocks(t *testing.T, d device, req *coffrev1.PutBlocksRequest) int {
	t.Helper()
	n := 0
	for _, b := range req.Blocks {
		get := &coffrev1.GetBlockRequest{VaultId: req.VaultId, BlockId: b.BlockId}
		resp, err := ts.api.GetBlock(ts.signed(t, d, coffrev1.CoffreService_GetBlock_FullMethodName, time.Now(), get), get)
		switch err := wire.FromStatus(err); {
		case errors.Is(err, wire.ErrNotFound):
		case err != nil:
			t.Fatalf("GetBlock(%s): %v", b.BlockId, err)
		case !bytes.Equal(resp.GetData(), b.Data):
			t.Fatalf("block %s holds other bytes than were put", b.BlockId)
		default:
			n++
		}
	}
	return n
}

// TestPutBlocks: a batch is stored whole by a writer, counted once against
// the quota, refused whole to a reader, and refused whole over the limits
// of SPEC.md §6.2 (count, bytes) or over the quota.
func TestPutBlocks(t *testing.T) {
	ts, admin := startBootstrapped(t)
	reader, ru := ts.member(t, admin, certificate.ProfileStandard)
	vault := ts.createVault(t, admin, map[*certificate.User]certificate.Role{ru: certificate.RoleReader}, time.Time{})

	req, err := ts.putBlocks(t, admin, vault, 100, 0, 4096)
	if err != nil {
		t.Fatalf("a batch of three blocks: %v", err)
	}
	if n := ts.storedBlocks(t, admin, req); n != 3 {
		t.Fatalf("%d of 3 blocks stored", n)
	}
	org, _ := ts.srv.cfg.Store.Organisation(context.Background(), ts.orgID)
	if org.UsedBytes != 4196 {
		t.Fatalf("usage %d bytes after a batch of 4,196, want 4,196", org.UsedBytes)
	}
	// The same batch again (a retry) succeeds.
	if _, err := ts.api.PutBlocks(ts.signed(t, admin, coffrev1.CoffreService_PutBlocks_FullMethodName, time.Now(), req), req); err != nil {
		t.Fatalf("the same batch again: %v", err)
	}

	req, err = ts.putBlocks(t, reader, vault, 100)
	if !errors.Is(err, wire.ErrForbidden) {
		t.Fatalf("a reader's batch: %v, want ErrForbidden", err)
	}
	if n := ts.storedBlocks(t, admin, req); n != 0 {
		t.Fatalf("a refused reader's batch stored %d blocks", n)
	}

	many := make([]int, wire.MaxBatchBlocks+1)
	req, err = ts.putBlocks(t, admin, vault, many...)
	if !errors.Is(err, wire.ErrBadRequest) {
		t.Fatalf("a batch of MaxBatchBlocks+1 blocks: %v, want ErrBadRequest", err)
	}
	req.Blocks = req.Blocks[:4]
	if n := ts.storedBlocks(t, admin, req); n != 0 {
		t.Fatalf("a batch over the count limit stored %d blocks", n)
	}
	req, err = ts.putBlocks(t, admin, vault, wire.MaxBatchBytes/2, wire.MaxBatchBytes/2, 1)
	if !errors.Is(err, wire.ErrBlockTooLarge) {
		t.Fatalf("a batch of MaxBatchBytes+1 bytes: %v, want ErrBlockTooLarge", err)
	}
	if n := ts.storedBlocks(t, admin, req); n != 0 {
		t.Fatalf("a batch over the byte limit stored %d blocks", n)
	}

	if err := ts.srv.cfg.Store.SetLimits(context.Background(), ts.orgID, store.Limits{StorageBytes: 5000}); err != nil {
		t.Fatal(err)
	}
	req, err = ts.putBlocks(t, admin, vault, 300, 300, 300) // 4,196 + 900 > 5,000
	if !errors.Is(err, wire.ErrStorageQuota) {
		t.Fatalf("a batch over the quota: %v, want ErrStorageQuota", err)
	}
	if n := ts.storedBlocks(t, admin, req); n != 0 {
		t.Fatalf("a batch over the quota stored %d blocks", n)
	}
}
