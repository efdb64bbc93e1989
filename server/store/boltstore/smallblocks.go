package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/coffre/coffre/server/store"
)

// The small blocks of batches (store.SmallBlocks, SPEC.md §7.4), apart
// from the organisations' buckets so that they need no organisation
// record, as a block store needs none:
//
//	small-blocks/<org id>/<vault id>   block id → u64be(stored, unix ns) || block
//
// The bucket is made by the first batch, which also sets the format
// version to formatSmallBlocks: an older server, which would not find
// these blocks, refuses the file rather than answer "not found".
var bucketSmall = []byte("small-blocks")

var _ store.SmallBlocks = (*Store)(nil)

// PutSmallBlocks stores blocks of one vault, and reserves their storage
// if asked, in one transaction, shared through bbolt's Batch with the
// reservations and batches of other calls running at the same time: one
// durable write for all of them.
func (s *Store) PutSmallBlocks(ctx context.Context, orgID, vaultID string, blocks []store.BlockData, n int64) error {
	for _, b := range blocks {
		if err := store.CheckBlockIDs(orgID, vaultID, b.ID); err != nil {
			return fmt.Errorf("putting small blocks of vault %q of %q: %w", vaultID, orgID, err)
		}
		if len(b.Data) > store.MaxBlockSize {
			return fmt.Errorf("putting block %q of vault %q of %q: %d bytes: %w", b.ID, vaultID, orgID, len(b.Data), store.ErrBlockTooLarge)
		}
	}
	stored := u64(uint64(time.Now().UnixNano()))
	err := s.batch(ctx, func(tx *bolt.Tx) error {
		if n > 0 {
			inTx := func(_ context.Context, fn func(*bolt.Tx) error) error { return fn(tx) }
			if _, err := s.updateOrgWith(ctx, inTx, orgID, func(o *store.Organisation) error { return s.reserveIn(o, n) }); err != nil {
				return fmt.Errorf("reserving storage: %w", err)
			}
		}
		if err := markSmallBlocks(tx); err != nil {
			return err
		}
		vault, err := smallVault(tx, orgID, vaultID, true)
		if err != nil {
			return err
		}
		for _, b := range blocks {
			if v := vault.Get([]byte(b.ID)); v != nil {
				if len(v) < 8 || !bytes.Equal(v[8:], b.Data) {
					return fmt.Errorf("block %q: %w", b.ID, store.ErrExists)
				}
				continue // a retried upload: stored when it was first
			}
			// bbolt keeps the value until the commit: a copy of its own.
			if err := vault.Put([]byte(b.ID), append(append(make([]byte, 0, 8+len(b.Data)), stored...), b.Data...)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("putting small blocks of vault %q of %q: %w", vaultID, orgID, err)
	}
	return nil
}

// markSmallBlocks sets the format version that says the file holds small
// blocks (a file without any keeps the version an older server opens).
func markSmallBlocks(tx *bolt.Tx) error {
	meta, err := topBucket(tx, bucketMeta)
	if err != nil {
		return err
	}
	if string(meta.Get(keyVersion)) == formatSmallBlocks {
		return nil
	}
	return meta.Put(keyVersion, []byte(formatSmallBlocks))
}

// smallVault returns a vault's bucket of small blocks, made if create,
// else nil if there is none.
func smallVault(tx *bolt.Tx, orgID, vaultID string, create bool) (*bolt.Bucket, error) {
	if !create {
		org := smallOrg(tx, orgID)
		if org == nil {
			return nil, nil
		}
		return org.Bucket([]byte(vaultID)), nil
	}
	all, err := tx.CreateBucketIfNotExists(bucketSmall)
	if err != nil {
		return nil, err
	}
	org, err := all.CreateBucketIfNotExists([]byte(orgID))
	if err != nil {
		return nil, err
	}
	return org.CreateBucketIfNotExists([]byte(vaultID))
}

// smallOrg returns an organisation's bucket of small blocks, nil if none.
func smallOrg(tx *bolt.Tx, orgID string) *bolt.Bucket {
	all := tx.Bucket(bucketSmall)
	if all == nil {
		return nil
	}
	return all.Bucket([]byte(orgID))
}

// SmallBlock returns a small block.
func (s *Store) SmallBlock(ctx context.Context, orgID, vaultID, blockID string) ([]byte, error) {
	if err := store.CheckBlockIDs(orgID, vaultID, blockID); err != nil {
		return nil, err
	}
	var data []byte
	err := s.view(ctx, func(tx *bolt.Tx) error {
		vault, _ := smallVault(tx, orgID, vaultID, false)
		var v []byte
		if vault != nil {
			v = vault.Get([]byte(blockID))
		}
		switch {
		case v == nil:
			return store.ErrNotFound
		case len(v) < 8:
			return fmt.Errorf("small block %q of vault %q of %q: %w", blockID, vaultID, orgID, store.ErrCorrupt)
		}
		data = bytes.Clone(v[8:])
		return nil
	})
	return data, err
}

// SmallBlockVaults lists the vaults of an organisation with small blocks.
func (s *Store) SmallBlockVaults(ctx context.Context, orgID string) ([]string, error) {
	var vaults []string
	err := s.view(ctx, func(tx *bolt.Tx) error {
		org := smallOrg(tx, orgID)
		if org == nil {
			return nil
		}
		return org.ForEachBucket(func(k []byte) error {
			vaults = append(vaults, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing the vaults of %q with small blocks: %w", orgID, err)
	}
	return vaults, nil
}

// ListSmallBlocks calls fn with each small block of a vault. The listing
// is read in one transaction before fn is called: fn may delete.
func (s *Store) ListSmallBlocks(ctx context.Context, orgID, vaultID string, fn func(store.BlockInfo) error) error {
	var infos []store.BlockInfo
	err := s.view(ctx, func(tx *bolt.Tx) error {
		vault, _ := smallVault(tx, orgID, vaultID, false)
		if vault == nil {
			return nil
		}
		return vault.ForEach(func(k, v []byte) error {
			if len(v) < 8 {
				return fmt.Errorf("small block %q: %w", k, store.ErrCorrupt)
			}
			stored := int64(binary.BigEndian.Uint64(v))
			infos = append(infos, store.BlockInfo{ID: string(k), Size: int64(len(v) - 8), Stored: time.Unix(0, stored)})
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("listing the small blocks of vault %q of %q: %w", vaultID, orgID, err)
	}
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// DeleteSmallBlocks removes small blocks of one vault in one transaction
// (shared through Batch with concurrent writes).
func (s *Store) DeleteSmallBlocks(ctx context.Context, orgID, vaultID string, blockIDs []string) error {
	err := store.CheckVaultBlockIDs(orgID, vaultID, blockIDs)
	if err != nil {
		return fmt.Errorf("deleting small blocks: %w", err)
	}
	err = s.batch(ctx, func(tx *bolt.Tx) error {
		vault, _ := smallVault(tx, orgID, vaultID, false)
		if vault == nil {
			return nil
		}
		for _, id := range blockIDs {
			if err := vault.Delete([]byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("deleting %d small blocks of vault %q of %q: %w", len(blockIDs), vaultID, orgID, err)
	}
	return nil
}
