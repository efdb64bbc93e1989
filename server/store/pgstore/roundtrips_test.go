package pgstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coffre/coffre/server/store"
)

// countingConn counts the writes to PostgreSQL's socket: pgx writes once
// per round trip (a pipelined batch is one write), so the count is the
// number of times a call waited for the server.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestRoundTrips counts the round trips of the calls each file write of a
// client makes of the store, 3 or 4 calls on the server (issue 15's load: 100
// clients writing small files): authenticating each call reads the
// organisation log beyond the server's snapshot (usually nothing), a put
// reserves storage, the append locks, checks and writes. Every round trip
// is a wake-up of both processes and, in a transaction, time the vault's
// row stays locked. The counts are of one connection, after each call ran
// once (the statements are then prepared).
func TestRoundTrips(t *testing.T) {
	var writes atomic.Int64
	s, err := open(t.Context(), cluster.NewDatabase(t)+" pool_max_conns=1", func(cfg *pgxpool.Config) {
		cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := new(net.Dialer).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{Conn: c, writes: &writes}, nil
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	newOrg(t, s, "orgaaaaa")
	const vault = "vaultaaa"
	blocks := NewBlocks(s)
	nonces := NewNonces(s)
	head := store.Head{}
	n := 0
	appendOne := func() error {
		n++
		id := blockID(n)
		refs := store.BlockRefs{Declared: true, IDs: []string{id}, Folders: []store.FolderPages{{Folder: "folder01"}}}
		e := next(head, "entry "+id)
		h, err := s.AppendVaultLogBlocks(ctx, "orgaaaaa", vault, []store.LogEntry{e}, refs, base)
		head = h
		return err
	}
	putOne := func() error {
		n++
		return blocks.PutBlock(ctx, "orgaaaaa", vault, blockID(n), []byte("ciphertext"))
	}
	calls := []struct {
		name string
		call func() error
		want int64
	}{
		{"ReadLog beyond the head", func() error { _, err := s.ReadLog(ctx, "orgaaaaa", 1, 1000); return err }, 1},
		{"ReadVaultLog beyond the head", func() error { _, err := s.ReadVaultLog(ctx, "orgaaaaa", vault, head.Position+1, 1000); return err }, 1},
		{"VaultLogHead", func() error { _, err := s.VaultLogHead(ctx, "orgaaaaa", vault); return err }, 1},
		{"LogHead", func() error { _, err := s.LogHead(ctx, "orgaaaaa"); return err }, 1},
		{"ReserveStorage", func() error { _, err := s.ReserveStorage(ctx, "orgaaaaa", 10); return err }, 1},
		{"PutBlock (blocks table)", putOne, 1},
		{"AppendVaultLogBlocks with a declared block and a folder", appendOne, 2},
		// Authentication: the nonce and the log beyond the snapshot.
		{"FreshReadLog", func() error {
			n++
			fresh, _, err := nonces.FreshReadLog(ctx, "deviceaa", []byte(blockID(n)), base, "orgaaaaa", 2, 1000)
			if err == nil && !fresh {
				err = errors.New("a new nonce is not fresh")
			}
			return err
		}, 1},
		// VaultRead with its signed heads, and GetHead.
		{"ReadVaultLogHeads", func() error {
			_, _, _, err := s.ReadVaultLogHeads(ctx, "orgaaaaa", vault, head.Position+1, 1000, true)
			return err
		}, 1},
		{"ReadVaultLogHeads, heads only", func() error {
			_, _, _, err := s.ReadVaultLogHeads(ctx, "orgaaaaa", vault, 0, 0, true)
			return err
		}, 1},
		// PutBlock on the blocks table, with its storage reservation.
		{"PutBlockReserved", func() error {
			n++
			return blocks.PutBlockReserved(ctx, "orgaaaaa", vault, blockID(n), []byte("ciphertext"), 10)
		}, 1},
	}
	for _, c := range calls {
		if err := c.call(); err != nil { // prepares the statements
			t.Fatalf("%s: %v", c.name, err)
		}
		before := writes.Load()
		if err := c.call(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := writes.Load() - before; got != c.want {
			t.Errorf("%s: %d round trips, want %d", c.name, got, c.want)
		}
	}
}

func blockID(n int) string { return fmt.Sprintf("block%03d", n) }
