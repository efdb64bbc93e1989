package boltstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/coffre/coffre/server/store"
)

// AppendVaultLog appends entries to one vault's log, with the rules of the
// organisation log (appendEntries). at is not needed: entries carry their
// ReceivedAt and there is no invitation to check it against.
func (s *Store) AppendVaultLog(ctx context.Context, orgID, vaultID string, entries []store.LogEntry, at time.Time) (store.Head, error) {
	return s.AppendVaultLogBlocks(ctx, orgID, vaultID, entries, store.BlockRefs{}, at)
}

// AppendVaultLogBlocks appends entries as AppendVaultLog and records the
// blocks they reference in the same transaction (blockrefs.go).
// Concurrent appends, to other vaults, share one synced transaction
// (bolt's Batch): under many writers one fsync per append was the
// store's serial point. One that fails is run again alone, so its error
// is its own.
func (s *Store) AppendVaultLogBlocks(ctx context.Context, orgID, vaultID string, entries []store.LogEntry, refs store.BlockRefs, at time.Time) (store.Head, error) {
	var head store.Head
	err := checkVaultID(vaultID)
	if err == nil {
		err = s.batch(ctx, func(tx *bolt.Tx) error {
			log, err := vaultLog(tx, orgID, vaultID, len(entries) > 0)
			if err != nil {
				return err
			}
			if head, err = appendEntries(log, entries); err != nil || len(entries) == 0 {
				return err
			}
			return recordRefs(tx, orgID, vaultID, len(entries), refs)
		})
	}
	if err != nil {
		return store.Head{}, fmt.Errorf("appending to the log of vault %q of %s: %w", vaultID, orgID, err)
	}
	return head, nil
}

// ReadVaultLog returns up to limit entries of a vault's log from position
// from; a vault never appended to has none.
func (s *Store) ReadVaultLog(ctx context.Context, orgID, vaultID string, from uint64, limit int) ([]store.LogEntry, error) {
	var entries []store.LogEntry
	err := checkVaultID(vaultID)
	if err == nil {
		err = s.view(ctx, func(tx *bolt.Tx) error {
			log, err := vaultLog(tx, orgID, vaultID, false)
			if err != nil {
				return err
			}
			entries, err = readEntries(log, from, limit)
			return err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("reading the log of vault %q of %s from %d: %w", vaultID, orgID, from, err)
	}
	return entries, nil
}

// VaultLogHead returns the last entry of a vault's log, or the empty head.
func (s *Store) VaultLogHead(ctx context.Context, orgID, vaultID string) (store.Head, error) {
	var head store.Head
	err := checkVaultID(vaultID)
	if err == nil {
		err = s.view(ctx, func(tx *bolt.Tx) error {
			log, err := vaultLog(tx, orgID, vaultID, false)
			if err != nil {
				return err
			}
			head, err = logHead(log)
			return err
		})
	}
	if err != nil {
		return store.Head{}, fmt.Errorf("reading the log head of vault %q of %s: %w", vaultID, orgID, err)
	}
	return head, nil
}

// checkVaultID refuses what cannot be a bucket name. Vault ids are
// otherwise opaque here: the organisation log decides which vaults exist.
func checkVaultID(vaultID string) error {
	if vaultID == "" || strings.IndexByte(vaultID, 0) >= 0 {
		return errors.New("empty vault id or NUL in vault id")
	}
	return nil
}

// vaultLog returns the log bucket of one vault: nil when the vault has
// none yet, unless create, which makes it. Buckets are made on first
// append, so stores written before vault logs existed need no migration;
// a vault's bucket without its log, though, is damage.
func vaultLog(tx *bolt.Tx, orgID, vaultID string, create bool) (*bolt.Bucket, error) {
	org, err := orgBucket(tx, orgID)
	if err != nil {
		return nil, err
	}
	vaults := org.Bucket(bucketVaults)
	if vaults == nil && create {
		if vaults, err = org.CreateBucket(bucketVaults); err != nil {
			return nil, err
		}
	}
	if vaults == nil {
		return nil, nil
	}
	vault := vaults.Bucket([]byte(vaultID))
	if vault != nil {
		return sub(vault, bucketLog)
	}
	if !create {
		return nil, nil
	}
	if vault, err = vaults.CreateBucket([]byte(vaultID)); err != nil {
		return nil, err
	}
	return vault.CreateBucket(bucketLog)
}
