package server

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/server/store/blockdir"
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

// getBlocks sends one GetBlocks for ids and returns the call's answer.
func (ts *testServer) getBlocks(t *testing.T, d device, vault string, ids ...string) (*coffrev1.GetBlocksResponse, error) {
	t.Helper()
	req := &coffrev1.GetBlocksRequest{VaultId: vault, BlockIds: ids}
	// The limit of coffre's client (client/conn.go), not gRPC's default.
	resp, err := ts.api.GetBlocks(ts.signed(t, d, coffrev1.CoffreService_GetBlocks_FullMethodName, time.Now(), req), req,
		grpc.MaxCallRecvMsgSize(32<<20))
	return resp, wire.FromStatus(err)
}

// TestGetBlocks: a member gets several blocks in one call, byte-equal and
// in the order asked; a device outside the vault is refused, and so are
// more ids than wire.MaxBatchBlocks, an id twice, and an unknown id
// (SPEC.md §6.2). An answer stops before wire.MaxBatchBytes of data.
func TestGetBlocks(t *testing.T) {
	ts, admin := startBootstrapped(t)
	reader, ru := ts.member(t, admin, certificate.ProfileStandard)
	outsider, _ := ts.member(t, admin, certificate.ProfileStandard)
	vault := ts.createVault(t, admin, map[*certificate.User]certificate.Role{ru: certificate.RoleReader}, time.Time{})

	put, err := ts.putBlocks(t, admin, vault, 100, 0, 4096)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{put.Blocks[2].BlockId, put.Blocks[0].BlockId, put.Blocks[1].BlockId}
	resp, err := ts.getBlocks(t, reader, vault, ids...)
	if err != nil {
		t.Fatalf("a reader's GetBlocks: %v", err)
	}
	if len(resp.GetBlocks()) != 3 {
		t.Fatalf("%d blocks of 3", len(resp.GetBlocks()))
	}
	for i, b := range resp.GetBlocks() {
		want := put.Blocks[[]int{2, 0, 1}[i]]
		if b.GetBlockId() != ids[i] || !bytes.Equal(b.GetData(), want.Data) {
			t.Fatalf("answer %d is block %s with other bytes than were put, or out of order", i, b.GetBlockId())
		}
	}

	if _, err := ts.getBlocks(t, outsider, vault, ids...); !errors.Is(err, wire.ErrNotFound) && !errors.Is(err, wire.ErrForbidden) {
		t.Fatalf("a non-member's GetBlocks: %v, want refused", err)
	}
	tooMany := make([]string, wire.MaxBatchBlocks+1)
	for i := range tooMany {
		tooMany[i] = certificate.NewID()
	}
	if _, err := ts.getBlocks(t, reader, vault, tooMany...); !errors.Is(err, wire.ErrBadRequest) {
		t.Fatalf("%d ids: %v, want ErrBadRequest", len(tooMany), err)
	}
	if _, err := ts.getBlocks(t, reader, vault); !errors.Is(err, wire.ErrBadRequest) {
		t.Fatalf("no id: %v, want ErrBadRequest", err)
	}
	if _, err := ts.getBlocks(t, reader, vault, ids[0], ids[0]); !errors.Is(err, wire.ErrBadRequest) {
		t.Fatalf("an id twice: %v, want ErrBadRequest", err)
	}
	if resp, err := ts.getBlocks(t, reader, vault, ids[0], certificate.NewID()); !errors.Is(err, wire.ErrNotFound) {
		t.Fatalf("an unknown id: %d blocks, %v; want ErrNotFound", len(resp.GetBlocks()), err)
	}

	// Three blocks of 4 MiB: the answer holds the first two, 8 MiB.
	var big []string
	for range 3 {
		req, err := ts.putBlocks(t, admin, vault, store.MaxBlockSize)
		if err != nil {
			t.Fatal(err)
		}
		big = append(big, req.Blocks[0].BlockId)
	}
	resp, err = ts.getBlocks(t, reader, vault, big...)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(resp.GetBlocks()); n != 2 || resp.Blocks[0].BlockId != big[0] || resp.Blocks[1].BlockId != big[1] {
		t.Fatalf("3 blocks of 4 MiB: an answer of %d blocks, want the first 2 (8 MiB)", n)
	}
}

// TestPutBlockSmallInOneWrite: a PutBlock of a small block goes to the
// embedded store's small blocks with its reservation, as a batch of one
// (SPEC.md §7.4), not to a file, reserved once; a retry of it succeeds, a
// block over SmallBlockMax is still a file, and the quota still refuses.
func TestPutBlockSmallInOneWrite(t *testing.T) {
	ts, admin := startBootstrapped(t)
	vault := ts.createVault(t, admin, nil, time.Time{})
	ctx := context.Background()
	put := func(n int) (*coffrev1.PutBlockRequest, error) {
		req := &coffrev1.PutBlockRequest{VaultId: vault, BlockId: certificate.NewID(), Data: crypto.RandomBytes(n)}
		_, err := ts.api.PutBlock(ts.signed(t, admin, coffrev1.CoffreService_PutBlock_FullMethodName, time.Now(), req), req)
		return req, wire.FromStatus(err)
	}
	small := ts.srv.cfg.Store.(store.SmallBlocks)
	req, err := put(4096)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := small.SmallBlock(ctx, ts.orgID, vault, req.BlockId); err != nil || !bytes.Equal(got, req.Data) {
		t.Fatalf("a 4 KiB PutBlock is not in the small blocks: %v", err)
	}
	if org, _ := ts.srv.cfg.Store.Organisation(ctx, ts.orgID); org.UsedBytes != 4096 {
		t.Fatalf("usage %d bytes after a 4 KiB block, want 4,096", org.UsedBytes)
	}
	if _, err := ts.api.PutBlock(ts.signed(t, admin, coffrev1.CoffreService_PutBlock_FullMethodName, time.Now(), req), req); err != nil {
		t.Fatalf("the same PutBlock again: %v", err)
	}
	big, err := put(blockdir.SmallBlockMax + 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := small.SmallBlock(ctx, ts.orgID, vault, big.BlockId); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a block over SmallBlockMax in the small blocks: %v", err)
	}
	org, _ := ts.srv.cfg.Store.Organisation(ctx, ts.orgID)
	if err := ts.srv.cfg.Store.SetLimits(ctx, ts.orgID, store.Limits{StorageBytes: org.UsedBytes + 100}); err != nil {
		t.Fatal(err)
	}
	req, err = put(101)
	if !errors.Is(err, wire.ErrStorageQuota) {
		t.Fatalf("a small block over the quota: %v, want ErrStorageQuota", err)
	}
	if _, err := small.SmallBlock(ctx, ts.orgID, vault, req.BlockId); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a block refused over the quota was stored: %v", err)
	}
}
