package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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
func (s *Store) AppendVaultLogBlocks(ctx context.Context, orgID, vaultID string, entries []store.LogEntry, refs store.BlockRefs, at time.Time) (store.Head, error) {
	var head store.Head
	err := checkVaultID(vaultID)
	if err == nil {
		err = s.inTx(ctx, func(tx pgx.Tx) (err error) {
			if head, err = appendEntries(ctx, tx, orgID, vaultID, entries); err != nil || len(entries) == 0 {
				return err
			}
			return recordRefs(ctx, tx, orgID, vaultID, len(entries), refs)
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
		entries, err = s.readEntries(ctx, orgID, vaultID, from, limit)
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
		head, err = s.head(ctx, orgID, vaultID)
	}
	if err != nil {
		return store.Head{}, fmt.Errorf("reading the log head of vault %q of %s: %w", vaultID, orgID, err)
	}
	return head, nil
}

// checkVaultID refuses the empty id, which is the organisation log's
// (orgLogID), and NUL, which PostgreSQL text cannot hold. Vault ids are
// otherwise opaque here: the organisation log decides which vaults exist.
func checkVaultID(vaultID string) error {
	if vaultID == "" || strings.IndexByte(vaultID, 0) >= 0 {
		return errors.New("empty vault id or NUL in vault id")
	}
	return nil
}
