package pgstore

import (
	"testing"

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
