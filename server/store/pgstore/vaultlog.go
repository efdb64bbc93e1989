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
// blocks they reference in the same transaction (blockrefs.go), in two
// round trips (appendVault).
func (s *Store) AppendVaultLogBlocks(ctx context.Context, orgID, vaultID string, entries []store.LogEntry, refs store.BlockRefs, at time.Time) (store.Head, error) {
	var head store.Head
	err := checkVaultID(vaultID)
	switch {
	case err != nil:
	case len(entries) == 0:
		head, err = s.head(ctx, orgID, vaultID)
	default:
		head, err = s.appendVault(ctx, orgID, vaultID, entries, refs)
	}
	if err != nil {
		return store.Head{}, fmt.Errorf("appending to the log of vault %q of %s: %w", vaultID, orgID, err)
	}
	return head, nil
}

// appendVault is the transaction of appendEntries and recordRefs, with the
// same locks in the same order, sent as two pipelined batches rather than
// a round trip per statement: every write of a file is one, and each round
// trip costs both processes a wake-up. The first batch begins, makes the
// head row if the log has none (as lockHead), locks and reads it, and looks
// for a declared block already condemned: that statement runs once the
// lock is held, so it sees every condemnation (which holds the same lock)
// committed before. The entries are checked against the head here; the
// second batch writes everything and commits. A failure in either rolls
// the transaction back.
func (s *Store) appendVault(ctx context.Context, orgID, vaultID string, entries []store.LogEntry, refs store.BlockRefs) (head store.Head, err error) {
	if err := ctx.Err(); err != nil {
		return store.Head{}, err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return store.Head{}, err
	}
	// The pool closes a connection released inside a transaction; this
	// rollback keeps it for the next call.
	defer func() {
		if conn.Conn().PgConn().TxStatus() != 'I' {
			conn.Exec(context.WithoutCancel(ctx), `ROLLBACK`)
		}
		conn.Release()
	}()

	var collected string
	var first pgx.Batch
	first.Queue(`BEGIN`)
	first.Queue(`INSERT INTO log_heads (org_id, log_id, position) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING`, orgID, vaultID)
	first.Queue(`SELECT position, hash FROM log_heads WHERE org_id = $1 AND log_id = $2 FOR UPDATE`, orgID, vaultID).QueryRow(func(row pgx.Row) (err error) {
		head, err = scanHead(row)
		return err
	})
	if refs.Declared && len(refs.IDs) > 0 {
		first.Queue(`SELECT block_id FROM vault_blocks WHERE org_id = $1 AND vault_id = $2 AND block_id = ANY($3) AND collected ORDER BY block_id LIMIT 1`,
			orgID, vaultID, refs.IDs).QueryRow(func(row pgx.Row) error {
			if err := row.Scan(&collected); !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			return nil
		})
	}
	err = conn.SendBatch(ctx, &first).Close()
	if _, ok := pgError(err, foreignKeyViolation); ok {
		return store.Head{}, fmt.Errorf("organisation %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Head{}, err
	}
	if collected != "" {
		return store.Head{}, fmt.Errorf("block %q: %w", collected, store.ErrBlockCollected)
	}

	var second pgx.Batch
	if head, err = queueEntries(&second, orgID, vaultID, head, entries); err != nil {
		return store.Head{}, err
	}
	declared := 0
	if refs.Declared {
		declared = len(entries) // otherwise the count falls behind the log for good
	}
	second.Queue(`UPDATE log_heads SET position = $3, hash = $4, declared = declared + $5 WHERE org_id = $1 AND log_id = $2`,
		orgID, vaultID, int64(head.Position), head.Hash, declared)
	if refs.Declared {
		queuePages(&second, orgID, vaultID, refs.Folders)
		if len(refs.IDs) > 0 {
			second.Queue(`INSERT INTO vault_blocks (org_id, vault_id, block_id, collected)
				SELECT $1, $2, id, false FROM unnest($3::text[]) AS id ON CONFLICT DO NOTHING`, orgID, vaultID, refs.IDs)
		}
	}
	second.Queue(`COMMIT`)
	if err := conn.SendBatch(ctx, &second).Close(); err != nil {
		return store.Head{}, err
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

var _ store.VaultLogReader = (*Store)(nil)

// ReadVaultLogHeads reads a vault's head, its entries from position from
// and the organisation's head as VaultLogHead, ReadVaultLog and LogHead
// do, one statement after the other (each sees what was committed when it
// started), in one round trip.
func (s *Store) ReadVaultLogHeads(ctx context.Context, orgID, vaultID string, from uint64, limit int, withOrgHead bool) (vault store.Head, entries []store.LogEntry, org store.Head, err error) {
	if err := checkVaultID(vaultID); err != nil {
		return store.Head{}, nil, store.Head{}, fmt.Errorf("reading the log of vault %q of %s: %w", vaultID, orgID, err)
	}
	b := &pgx.Batch{}
	vaultRead := queueHead(b, orgID, vaultID)
	var read *entriesRead
	if limit > 0 {
		read = queueReadEntries(b, orgID, vaultID, from, limit)
	}
	var orgRead *headRead
	if withOrgHead {
		orgRead = queueHead(b, orgID, orgLogID)
	}
	err = s.pool.SendBatch(ctx, b).Close()
	if err == nil {
		vault, err = vaultRead.result()
	}
	if err == nil && read != nil {
		entries, err = read.result()
	}
	if err == nil && orgRead != nil {
		org, err = orgRead.result()
	}
	if err != nil {
		return store.Head{}, nil, store.Head{}, fmt.Errorf("reading the log of vault %q of %s from %d: %w", vaultID, orgID, from, err)
	}
	return vault, entries, org, nil
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
