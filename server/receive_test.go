package server

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server/store"
)

// keepingBlocks is a block store that keeps every block it is given as
// given, as one whose upload may still read them after PutBlock returns
// (S3). It embeds the interface, not the embedded store, so it does not
// claim store.DataReleasing.
type keepingBlocks struct {
	store.BlockStore
	mu         sync.Mutex
	kept, want [][]byte
}

func (k *keepingBlocks) PutBlock(ctx context.Context, orgID, vaultID, blockID string, data []byte) error {
	k.mu.Lock()
	k.kept, k.want = append(k.kept, data), append(k.want, bytes.Clone(data))
	k.mu.Unlock()
	return k.BlockStore.PutBlock(ctx, orgID, vaultID, blockID, data)
}

// putLargeBlocks puts n blocks large enough for the block codec's own
// buffers and returns them by id.
func putLargeBlocks(t *testing.T, ts *testServer, d device, vault string, n int) map[string][]byte {
	t.Helper()
	sent := map[string][]byte{}
	for range n {
		req := &coffrev1.PutBlockRequest{VaultId: vault, BlockId: certificate.NewID(), Data: crypto.RandomBytes(256 << 10)}
		if _, err := ts.api.PutBlock(ts.signed(t, d, coffrev1.CoffreService_PutBlock_FullMethodName, time.Now(), req), req); err != nil {
			t.Fatal(err)
		}
		sent[req.BlockId] = req.Data
	}
	return sent
}

// TestReceiveBuffersReusedOnlyWhenReleased: the buffers PutBlock requests
// arrive in are reused for later requests only when the block store is
// done with a block when PutBlock returns (store.DataReleasing): a store
// that keeps the bytes it was given finds them unchanged after later
// puts, and the embedded store, which reuses them, stores every block as
// sent.
func TestReceiveBuffersReusedOnlyWhenReleased(t *testing.T) {
	keeping := &keepingBlocks{}
	ts := startServerWith(t, func(b store.BlockStore) store.BlockStore { keeping.BlockStore = b; return keeping })
	admin := ts.bootstrap(t)
	putLargeBlocks(t, ts, admin, ts.createVault(t, admin, nil, time.Time{}), 16)
	for i := range keeping.kept {
		if !bytes.Equal(keeping.kept[i], keeping.want[i]) {
			t.Fatalf("block %d of %d changed after its put: its buffer was reused while the store held it", i+1, len(keeping.kept))
		}
	}

	ts = startServer(t)
	admin = ts.bootstrap(t)
	vault := ts.createVault(t, admin, nil, time.Time{})
	for id, data := range putLargeBlocks(t, ts, admin, vault, 16) {
		req := &coffrev1.GetBlockRequest{VaultId: vault, BlockId: id}
		got, err := ts.api.GetBlock(ts.signed(t, admin, coffrev1.CoffreService_GetBlock_FullMethodName, time.Now(), req), req)
		if err != nil || !bytes.Equal(got.GetData(), data) {
			t.Fatalf("block %s reads back as %d other bytes (%v)", id, len(got.GetData()), err)
		}
	}
}
