package hostile

import (
	"bytes"
	"context"
	"encoding/binary"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/vaultlog"
)

// --- blocks, as stored ------------------------------------------------------

// BlocksDir is the server's block directory (SPEC.md §7.4). Embedded
// backend only: on postgres+s3 blocks are objects of a bucket.
func (s *Server) BlocksDir() string {
	return s.boltOnly("BlocksDir", "blocks are objects of a bucket").blocksDir()
}

// BlockPath is the file that holds a block:
// BlocksDir/<organisation>/<vault>/<first 2 characters of the id>/<id>.
// Embedded backend only: on postgres+s3 a block is the object
// <organisation>/<vault>/<id> of a bucket (Block, WriteBlock… reach it).
func (s *Server) BlockPath(orgID, vaultID, blockID string) string {
	return s.boltOnly("BlockPath", "blocks are objects of a bucket").blockPath(orgID, vaultID, blockID)
}

// boltOnly returns the embedded backing, and fails the test that started
// the server on another backend: what needs it should have called
// RequireEmbedded.
func (s *Server) boltOnly(what, why string) *boltBacking {
	b, ok := s.backing.(*boltBacking)
	if !ok {
		backend, _ := Backend()
		s.t.Fatalf("hostile: %s is for the embedded backend only (%s on %s): call hostile.RequireEmbedded first", what, why, backend)
	}
	return b
}

// Block returns the stored bytes of a block; it fails the test if there is
// none.
func (s *Server) Block(t testing.TB, orgID, vaultID, blockID string) []byte {
	t.Helper()
	data, err := s.backing.readBlock(orgID, vaultID, blockID)
	if err != nil {
		t.Fatalf("hostile: block: %v", err)
	}
	return data
}

// WriteBlock replaces (or creates) a block with data, as whoever holds the
// server's disk (or bucket) can. The block store keeps no file open
// between calls, and caches nothing: the running server serves the new
// bytes at once.
func (s *Server) WriteBlock(t testing.TB, orgID, vaultID, blockID string, data []byte) {
	t.Helper()
	if err := s.backing.writeBlock(orgID, vaultID, blockID, data); err != nil {
		t.Fatalf("hostile: writing block: %v", err)
	}
}

// RemoveBlock deletes a block; it fails the test if there is none.
func (s *Server) RemoveBlock(t testing.TB, orgID, vaultID, blockID string) {
	t.Helper()
	if err := s.backing.removeBlock(orgID, vaultID, blockID); err != nil {
		t.Fatalf("hostile: removing block: %v", err)
	}
}

// Blocks returns every block stored for a vault, by block id.
func (s *Server) Blocks(t testing.TB, orgID, vaultID string) map[string][]byte {
	t.Helper()
	out, err := s.backing.vaultBlocks(orgID, vaultID)
	if err != nil {
		t.Fatalf("hostile: reading the blocks: %v", err)
	}
	return out
}

// AllBlocks returns everything stored where the blocks are: every file
// under the block directory (temporary files included), by path relative
// to it, or on postgres+s3 every object of the bucket, by key
// (<organisation>/<vault>/<id>).
func (s *Server) AllBlocks(t testing.TB) map[string][]byte {
	t.Helper()
	out, err := s.backing.allBlocks()
	if err != nil {
		t.Fatalf("hostile: reading the blocks: %v", err)
	}
	return out
}

// --- vault logs, as stored --------------------------------------------------

// VaultLog returns the stored entry bytes of a vault's log, position 1
// first (none for a vault never written to).
func (s *Server) VaultLog(t testing.TB, orgID, vaultID string) [][]byte {
	t.Helper()
	entries, err := s.readVaultLog(orgID, vaultID)
	if err != nil {
		t.Fatalf("hostile: reading the vault log: %v", err)
	}
	out := make([][]byte, len(entries))
	for i, e := range entries {
		out[i] = e.Data
	}
	return out
}

func (s *Server) readVaultLog(orgID, vaultID string) ([]store.LogEntry, error) {
	var all []store.LogEntry
	for {
		page, err := s.Store().ReadVaultLog(context.Background(), orgID, vaultID, uint64(len(all))+1, 1000)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			return all, nil
		}
		all = append(all, page...)
	}
}

// VaultHead returns the head of a vault's stored log as a client computes
// it: position 0 and the vault's genesis hash for an empty log.
func (s *Server) VaultHead(t testing.TB, orgID, vaultID string) certificate.Head {
	t.Helper()
	h, err := s.vaultHead(orgID, vaultID)
	if err != nil {
		t.Fatalf("hostile: %v", err)
	}
	return h
}

func (s *Server) vaultHead(orgID, vaultID string) (certificate.Head, error) {
	h, err := s.Store().VaultLogHead(context.Background(), orgID, vaultID)
	if err != nil {
		return certificate.Head{}, err
	}
	if h.Position == 0 {
		return certificate.Head{Hash: vaultlog.VaultGenesis(orgID, vaultID)}, nil
	}
	return certificate.Head{Position: h.Position, Hash: h.Hash}, nil
}

// AppendVaultRaw appends entries to a vault's stored log through the
// store, without any of the server's checks (the store keeps the chain
// hashes consistent). The server does not re-verify vault logs: it serves
// whatever is stored.
func (s *Server) AppendVaultRaw(t testing.TB, orgID, vaultID string, entries ...[]byte) {
	t.Helper()
	if err := s.AppendVault(orgID, vaultID, entries...); err != nil {
		t.Fatalf("hostile: %v", err)
	}
}

// AppendVault is AppendVaultRaw for use inside a rewriter.
func (s *Server) AppendVault(orgID, vaultID string, data ...[]byte) error {
	head, err := s.vaultHead(orgID, vaultID)
	if err != nil {
		return err
	}
	prev := head.Hash
	var entries []store.LogEntry
	for i, d := range data {
		h := vaultlog.EntryHash(prev, d)
		entries = append(entries, store.LogEntry{
			Position: head.Position + uint64(i) + 1, PrevHash: prev, Hash: h, Data: d, ReceivedAt: s.Clock.Now(),
		})
		prev = h
	}
	_, err = s.Store().AppendVaultLog(context.Background(), orgID, vaultID, entries, s.Clock.Now())
	return err
}

// EditVaultLog rewrites a vault's stored log: fn gets the entry bytes
// (position 1 first) and returns the new list, stored at positions 1…n
// with chain hashes recomputed from the vault's genesis hash. The server is
// stopped during the edit and restarted on the same address.
func (s *Server) EditVaultLog(t testing.TB, orgID, vaultID string, fn func(entries [][]byte) [][]byte) {
	t.Helper()
	old, err := s.readVaultLog(orgID, vaultID)
	if err != nil {
		t.Fatalf("hostile: reading the vault log: %v", err)
	}
	data := make([][]byte, len(old))
	for i, e := range old {
		data[i] = e.Data
	}
	data = fn(slices.Clone(data))
	prev := vaultlog.VaultGenesis(orgID, vaultID)
	var entries []store.LogEntry
	for i, d := range data {
		e := store.LogEntry{Position: uint64(i + 1), PrevHash: prev, Hash: vaultlog.EntryHash(prev, d), Data: d}
		if i < len(old) {
			e.ReceivedAt = old[i].ReceivedAt
		} else {
			e.ReceivedAt = s.Clock.Now()
		}
		entries = append(entries, e)
		prev = e.Hash
	}
	s.restart(func() error { return s.backing.replaceLog(orgID, vaultID, entries) })
}

// TruncateVaultLog keeps the first keep entries of a vault's stored log.
func (s *Server) TruncateVaultLog(t testing.TB, orgID, vaultID string, keep uint64) {
	t.Helper()
	s.EditVaultLog(t, orgID, vaultID, func(e [][]byte) [][]byte {
		if uint64(len(e)) < keep {
			t.Fatalf("hostile: truncating a vault log of %d entries to %d", len(e), keep)
		}
		return e[:keep]
	})
}

// ReplaceVaultEntry replaces the stored bytes at a position (from 1).
func (s *Server) ReplaceVaultEntry(t testing.TB, orgID, vaultID string, pos uint64, data []byte) {
	t.Helper()
	s.EditVaultLog(t, orgID, vaultID, func(e [][]byte) [][]byte {
		e[pos-1] = data
		return e
	})
}

// SwapVaultEntries swaps the stored bytes at two positions (from 1).
func (s *Server) SwapVaultEntries(t testing.TB, orgID, vaultID string, a, b uint64) {
	t.Helper()
	s.EditVaultLog(t, orgID, vaultID, func(e [][]byte) [][]byte {
		e[a-1], e[b-1] = e[b-1], e[a-1]
		return e
	})
}

// --- the whole stored state -------------------------------------------------

// FullSnapshot is the server's whole stored state: the store and the
// blocks (what an operator's backup of SPEC.md §7.3 holds).
type FullSnapshot struct {
	Store  []byte
	Blocks map[string][]byte // as AllBlocks gives them
}

// SnapshotAll returns a copy of the store and of the blocks.
func (s *Server) SnapshotAll() FullSnapshot {
	s.t.Helper()
	return FullSnapshot{Store: s.Snapshot(), Blocks: s.AllBlocks(s.t)}
}

// RestoreAll puts a full snapshot back (blocks written since are removed)
// and restarts the server.
func (s *Server) RestoreAll(snap FullSnapshot) {
	s.t.Helper()
	s.restart(func() error {
		if err := s.backing.restore(snap.Store); err != nil {
			return err
		}
		return s.backing.restoreBlocks(snap.Blocks)
	})
}

// StoredData is everything the server keeps, on any backend: store is
// every byte of the metadata store (the data directory's files but the
// blocks, or every row of every table of the database), by where it is;
// blocks is every block (AllBlocks). Both raw, as stored.
func (s *Server) StoredData(t testing.TB) (store, blocks map[string][]byte) {
	t.Helper()
	store, err := s.backing.storeContents()
	if err != nil {
		t.Fatalf("hostile: reading the store: %v", err)
	}
	return store, s.AllBlocks(t)
}

// --- a device's local state ---------------------------------------------------

// VaultHeadOnDisk returns the vault head a device stored in its local state
// (SPEC.md §9), read with the state key of its key file: what the device
// trusts for that vault after a restart. The device's session must be
// closed (an open session locks the file). ok is false when the device
// stored no head for the vault.
func VaultHeadOnDisk(t testing.TB, dir, vaultID string) (head certificate.Head, ok bool) {
	t.Helper()
	key, err := crypto.ParseSecretKey(ReadDevice(t, dir).StateKey)
	if err != nil {
		t.Fatalf("hostile: state key: %v", err)
	}
	db, err := bolt.Open(filepath.Join(dir, "state.db"), 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatalf("hostile: opening the local state (is the session still open?): %v", err)
	}
	defer db.Close()
	var sealed []byte
	db.View(func(tx *bolt.Tx) error {
		if meta := tx.Bucket([]byte("meta")); meta != nil {
			sealed = bytes.Clone(meta.Get([]byte("vault-head/" + vaultID)))
		}
		return nil
	})
	if sealed == nil {
		return certificate.Head{}, false
	}
	aad := binary.BigEndian.AppendUint64([]byte("coffre/v1/state/vault/"+vaultID+"/head/"), 0)
	plain, err := key.Decrypt(aad, sealed)
	if err != nil || len(plain) < 8 {
		t.Fatalf("hostile: the stored vault head does not decrypt (has the state format changed?)")
	}
	return certificate.Head{Position: binary.BigEndian.Uint64(plain), Hash: plain[8:]}, true
}
