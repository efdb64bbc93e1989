package pgstore

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/server/store/storetest"
)

func TestBlocksConformance(t *testing.T) {
	storetest.RunBlocks(t, func(t *testing.T) store.BlockStore {
		return NewBlocks(mustOpen(t, cluster.NewDatabase(t)))
	})
}

// TestBlocksShared checks that two stores on one database, as two server
// processes, see each other's blocks.
func TestBlocksShared(t *testing.T) {
	url := cluster.NewDatabase(t)
	a, b := NewBlocks(mustOpen(t, url)), NewBlocks(mustOpen(t, url))
	ctx := t.Context()
	if err := a.PutBlock(ctx, "orgaaaaa", "vaultaaa", "block001", []byte("from a")); err != nil {
		t.Fatal(err)
	}
	got, err := b.GetBlock(ctx, "orgaaaaa", "vaultaaa", "block001")
	if err != nil || string(got) != "from a" {
		t.Fatalf("GetBlock through the other store = %q, %v; want %q", got, err, "from a")
	}
	if err := b.PutBlock(ctx, "orgaaaaa", "vaultaaa", "block001", []byte("from b")); err == nil {
		t.Fatal("PutBlock of other bytes through the other store succeeded, want store.ErrExists")
	}
}

// TestPutBlockReserved: a put over the storage quota stores nothing and
// counts nothing; a put of other bytes under a taken id gives its
// reservation back; an unknown organisation is ErrNotFound. One connection
// only: each call leaves it usable (a failed reservation's transaction
// rolled back), and none waits for a second.
func TestPutBlockReserved(t *testing.T) {
	s := mustOpen(t, cluster.NewDatabase(t)+" pool_max_conns=1")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	newOrg(t, s, "orgaaaaa")
	if err := s.SetLimits(ctx, "orgaaaaa", store.Limits{StorageBytes: 100}); err != nil {
		t.Fatal(err)
	}
	b := NewBlocks(s)
	used := func() int64 {
		t.Helper()
		o, err := s.Organisation(ctx, "orgaaaaa")
		if err != nil {
			t.Fatal(err)
		}
		return o.UsedBytes
	}
	put := func(id string, n int) error {
		return b.PutBlockReserved(ctx, "orgaaaaa", "vaultaaa", id, bytes.Repeat([]byte{'x'}, n), int64(n))
	}
	if err := put("block001", 60); err != nil {
		t.Fatal(err)
	}
	if err := put("block002", 60); !errors.Is(err, store.ErrQuotaExceeded) {
		t.Fatalf("a put over the quota: %v, want ErrQuotaExceeded", err)
	}
	if _, err := b.GetBlock(ctx, "orgaaaaa", "vaultaaa", "block002"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the block refused over the quota: GetBlock = %v, want ErrNotFound", err)
	}
	if got := used(); got != 60 {
		t.Fatalf("%d bytes used after a put refused over the quota, want 60", got)
	}
	if err := put("block001", 30); !errors.Is(err, store.ErrExists) {
		t.Fatalf("other bytes under a taken id: %v, want ErrExists", err)
	}
	if got := used(); got != 60 {
		t.Fatalf("%d bytes used after a put refused as ErrExists, want 60 (its reservation given back)", got)
	}
	if err := put("block003", 40); err != nil {
		t.Fatalf("a put within the quota after the refusals: %v", err)
	}
	if got := used(); got != 100 {
		t.Fatalf("%d bytes used, want 100", got)
	}
	err := b.PutBlockReserved(ctx, "orgbbbbb", "vaultaaa", "block001", []byte("x"), 1)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a put to an unknown organisation: %v, want ErrNotFound", err)
	}
}
