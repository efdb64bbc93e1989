package boltstore

import (
	"context"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/coffre/coffre/server/store"
)

// What a vault's bucket holds for block garbage collection (SPEC.md §7.5),
// beside its log:
//
//	org/<id>/vaults/<vault>/blocks    block id → blockReferenced or blockCollected
//	org/<id>/vaults/<vault> declared  8-byte big-endian count of the log's entries that declared their blocks
//
// A vault whose log has more entries than declared ones (entries from
// before block collection, or from an older client) is never collected.
var (
	bucketBlockRefs = []byte("blocks")
	keyDeclared     = []byte("declared")
)

// The state of a block id in bucketBlockRefs; each is final.
const (
	blockReferenced = 'r' // declared by an entry of the log
	blockCollected  = 'c' // condemned: deleted, or about to be
)

// recordRefs records, after n entries were appended to a vault's log in
// tx, the blocks they declared, or that they declared none.
func recordRefs(tx *bolt.Tx, orgID, vaultID string, n int, refs store.BlockRefs) error {
	vault, err := vaultBucket(tx, orgID, vaultID)
	if err != nil || vault == nil {
		return err
	}
	if !refs.Declared {
		return nil // the count falls behind the log for good
	}
	declared, err := declaredCount(vault)
	if err != nil {
		return err
	}
	if err := vault.Put(keyDeclared, u64(declared+uint64(n))); err != nil {
		return err
	}
	blocks, err := vault.CreateBucketIfNotExists(bucketBlockRefs)
	if err != nil {
		return err
	}
	for _, id := range refs.IDs {
		switch v := blocks.Get([]byte(id)); {
		case len(v) == 1 && v[0] == blockCollected:
			return fmt.Errorf("block %q: %w", id, store.ErrBlockCollected)
		case v != nil:
			continue
		}
		if err := blocks.Put([]byte(id), []byte{blockReferenced}); err != nil {
			return err
		}
	}
	return recordPages(vault, refs.Folders)
}

// vaultBucket returns a vault's bucket, or nil before its first append.
func vaultBucket(tx *bolt.Tx, orgID, vaultID string) (*bolt.Bucket, error) {
	org, err := orgBucket(tx, orgID)
	if err != nil {
		return nil, err
	}
	vaults := org.Bucket(bucketVaults)
	if vaults == nil {
		return nil, nil
	}
	return vaults.Bucket([]byte(vaultID)), nil
}

func declaredCount(vault *bolt.Bucket) (uint64, error) {
	v := vault.Get(keyDeclared)
	switch len(v) {
	case 0:
		return 0, nil
	case 8:
		return binary.BigEndian.Uint64(v), nil
	}
	return 0, fmt.Errorf("declared count of %d bytes: %w", len(v), store.ErrCorrupt)
}

// allDeclared reports whether every entry of a vault's log declared its
// blocks (true for a vault never appended to).
func allDeclared(tx *bolt.Tx, orgID, vaultID string) (bool, error) {
	vault, err := vaultBucket(tx, orgID, vaultID)
	if err != nil || vault == nil {
		return err == nil, err
	}
	log, err := sub(vault, bucketLog)
	if err != nil {
		return false, err
	}
	head, err := logHead(log)
	if err != nil {
		return false, err
	}
	declared, err := declaredCount(vault)
	return err == nil && declared == head.Position, err
}

// BlocksDeclared reports whether every entry of a vault's log declared
// its blocks.
func (s *Store) BlocksDeclared(ctx context.Context, orgID, vaultID string) (bool, error) {
	var ok bool
	err := checkVaultID(vaultID)
	if err == nil {
		err = s.view(ctx, func(tx *bolt.Tx) (err error) {
			ok, err = allDeclared(tx, orgID, vaultID)
			return err
		})
	}
	if err != nil {
		return false, fmt.Errorf("reading the block declarations of vault %q of %s: %w", vaultID, orgID, err)
	}
	return ok, nil
}

// CondemnBlocks records as collected the ids no entry declared, in one
// transaction: bbolt runs one writer at a time, so no append can declare
// one of them in between.
func (s *Store) CondemnBlocks(ctx context.Context, orgID, vaultID string, ids []string, dryRun bool) (fresh, earlier []string, err error) {
	run := s.update
	if dryRun {
		run = s.view
	}
	err = checkVaultID(vaultID)
	if err == nil {
		err = run(ctx, func(tx *bolt.Tx) error {
			ok, err := allDeclared(tx, orgID, vaultID)
			if err != nil || !ok {
				return err
			}
			var blocks *bolt.Bucket
			if vault, err := vaultBucket(tx, orgID, vaultID); err != nil {
				return err
			} else if vault != nil {
				blocks = vault.Bucket(bucketBlockRefs)
			}
			for _, id := range ids {
				var v []byte
				if blocks != nil {
					v = blocks.Get([]byte(id))
				}
				switch {
				case len(v) == 1 && v[0] == blockCollected:
					earlier = append(earlier, id)
					continue
				case v != nil:
					continue // referenced
				case dryRun:
				default:
					if blocks == nil {
						if blocks, err = createRefs(tx, orgID, vaultID); err != nil {
							return err
						}
					}
					if err := blocks.Put([]byte(id), []byte{blockCollected}); err != nil {
						return err
					}
				}
				fresh = append(fresh, id)
			}
			return nil
		})
	}
	if err != nil {
		return nil, nil, fmt.Errorf("condemning blocks of vault %q of %s: %w", vaultID, orgID, err)
	}
	return fresh, earlier, nil
}

// createRefs makes a vault's bucket of block ids, and the vault's bucket
// and log if the vault was never appended to.
func createRefs(tx *bolt.Tx, orgID, vaultID string) (*bolt.Bucket, error) {
	if _, err := vaultLog(tx, orgID, vaultID, true); err != nil {
		return nil, err
	}
	vault, err := vaultBucket(tx, orgID, vaultID)
	if err != nil {
		return nil, err
	}
	return vault.CreateBucketIfNotExists(bucketBlockRefs)
}
