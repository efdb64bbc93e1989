package testbackend

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/server/store/blockdir"
	"github.com/coffre/coffre/server/store/boltstore"
)

// TestCountBlocksAndSmallBlocks: on the embedded store's data directory,
// laid out as coffre-server run lays it out, CountBlocks counts a vault's
// block files and CountSmallBlocks its small blocks in coffre.db, each
// vault apart.
func TestCountBlocksAndSmallBlocks(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	st, err := boltstore.Open(filepath.Join(data, "coffre.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := blockdir.Open(filepath.Join(data, "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	blocks.UseSmallBlocks(st)
	const org, vault, other = "orgaaaaa", "vaultaaa", "vaultbbb"
	small := []store.BlockData{{ID: "block001", Data: []byte("one")}, {ID: "block002", Data: []byte("two")}, {ID: "block003", Data: []byte("three")}}
	if done, err := blocks.PutBlocksReserved(ctx, org, vault, small, 0); !done || err != nil {
		t.Fatalf("PutBlocksReserved: %v, %v", done, err)
	}
	if err := blocks.PutBlock(ctx, org, vault, "block004", []byte("a file")); err != nil {
		t.Fatal(err)
	}
	if err := blocks.PutBlocks(ctx, org, other, small[:1]); err != nil {
		t.Fatal(err)
	}
	blocks.Close()
	st.Close()

	var d Deployment // the embedded store's
	if n := d.CountBlocks(t, data, org, vault); n != 1 {
		t.Errorf("CountBlocks = %d, want the 1 block file", n)
	}
	if n := d.CountSmallBlocks(t, data, org, vault); n != 3 {
		t.Errorf("CountSmallBlocks = %d, want the 3 small blocks", n)
	}
	if n := d.CountSmallBlocks(t, data, org, other); n != 1 {
		t.Errorf("CountSmallBlocks of the other vault = %d, want 1", n)
	}
}
