package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/coffre/coffre/server/store"
)

// orgLogID is the log_id of the organisation log; a vault's log has the
// vault's id, which is never empty (checkVaultID).
const orgLogID = ""

// AppendLog appends entries after checking they extend the head, and spends
// the invitation named by spend, in one transaction.
func (s *Store) AppendLog(ctx context.Context, orgID string, entries []store.LogEntry, spend string, at time.Time) (store.Head, error) {
	var head store.Head
	err := s.inTx(ctx, func(tx pgx.Tx) (err error) {
		if head, err = appendEntries(ctx, tx, orgID, orgLogID, entries); err != nil {
			return err
		}
		if spend == "" {
			return nil
		}
		_, err = updateInvitation(ctx, tx, orgID, spend, func(inv *store.Invitation) error {
			if inv.State != store.InvitationPending || !at.Before(inv.ExpiresAt) {
				return fmt.Errorf("invitation %s (%s, expires %s): %w", spend, inv.State, inv.ExpiresAt.Format(time.RFC3339), store.ErrInvitationUnusable)
			}
			inv.State = store.InvitationSpent
			return nil
		})
		return err
	})
	if err != nil {
		return store.Head{}, fmt.Errorf("appending to the log of %s: %w", orgID, err)
	}
	return head, nil
}

// appendEntries locks the head of one log, checks that entries extend it,
// writes them and moves the head, in tx. The head stays locked until tx
// ends, so that no other writer, in this process or another, can append in
// between. The first entry's PrevHash is not checked against an empty log:
// the genesis hash is the caller's business (store.Head).
func appendEntries(ctx context.Context, tx pgx.Tx, orgID, logID string, entries []store.LogEntry) (store.Head, error) {
	head, err := lockHead(ctx, tx, orgID, logID, len(entries) > 0)
	if err != nil || len(entries) == 0 {
		return head, err
	}
	var batch pgx.Batch
	for _, e := range entries {
		if e.Position != head.Position+1 || (head.Position > 0 && !bytes.Equal(e.PrevHash, head.Hash)) {
			return store.Head{}, fmt.Errorf("entry at position %d after head %d: %w", e.Position, head.Position, store.ErrConflict)
		}
		batch.Queue(`INSERT INTO log_entries (org_id, log_id, position, prev_hash, hash, data, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			orgID, logID, int64(e.Position), e.PrevHash, e.Hash, e.Data, timestamptz(e.ReceivedAt))
		head = store.Head{Position: e.Position, Hash: e.Hash}
	}
	batch.Queue(`UPDATE log_heads SET position = $3, hash = $4 WHERE org_id = $1 AND log_id = $2`,
		orgID, logID, int64(head.Position), head.Hash)
	if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
		return store.Head{}, err
	}
	return head, nil
}

// lockHead reads the head of one log and locks it until tx ends. A vault's
// log has no head row before its first append: create makes it, otherwise
// the log is empty.
func lockHead(ctx context.Context, tx pgx.Tx, orgID, logID string, create bool) (store.Head, error) {
	const lock = `SELECT position, hash FROM log_heads WHERE org_id = $1 AND log_id = $2 FOR UPDATE`
	head, err := scanHead(tx.QueryRow(ctx, lock, orgID, logID))
	if !errors.Is(err, pgx.ErrNoRows) {
		return head, err
	}
	if !create {
		return store.Head{}, checkOrg(ctx, tx, orgID)
	}
	// Two first appends may race here: the second waits for the first's
	// row, then finds it and waits for its lock.
	_, err = tx.Exec(ctx, `INSERT INTO log_heads (org_id, log_id, position) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING`, orgID, logID)
	if _, ok := pgError(err, foreignKeyViolation); ok {
		return store.Head{}, fmt.Errorf("organisation %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Head{}, err
	}
	return scanHead(tx.QueryRow(ctx, lock, orgID, logID))
}

// ReadLog returns up to limit entries from position from.
func (s *Store) ReadLog(ctx context.Context, orgID string, from uint64, limit int) ([]store.LogEntry, error) {
	entries, err := s.readEntries(ctx, orgID, orgLogID, from, limit)
	if err != nil {
		return nil, fmt.Errorf("reading the log of %s from %d: %w", orgID, from, err)
	}
	return entries, nil
}

// readEntries returns up to limit entries of one log from position from.
// One statement sees one snapshot, so the entries are a consistent slice
// of the log.
func (s *Store) readEntries(ctx context.Context, orgID, logID string, from uint64, limit int) ([]store.LogEntry, error) {
	if limit > 0 {
		rows, err := s.pool.Query(ctx, `SELECT position, prev_hash, hash, data, received_at FROM log_entries
			WHERE org_id = $1 AND log_id = $2 AND position >= $3 ORDER BY position LIMIT $4`,
			orgID, logID, int64(min(from, math.MaxInt64)), limit)
		if err != nil {
			return nil, err
		}
		entries, err := pgx.CollectRows(rows, scanEntry)
		if err != nil || len(entries) > 0 {
			return entries, err
		}
	}
	return nil, checkOrg(ctx, s.pool, orgID)
}

// LogHead returns the last entry's position and hash.
func (s *Store) LogHead(ctx context.Context, orgID string) (store.Head, error) {
	head, err := s.head(ctx, orgID, orgLogID)
	if err != nil {
		return store.Head{}, fmt.Errorf("reading the log head of %s: %w", orgID, err)
	}
	return head, nil
}

// head reads the head of one log without locking it.
func (s *Store) head(ctx context.Context, orgID, logID string) (store.Head, error) {
	head, err := scanHead(s.pool.QueryRow(ctx, `SELECT position, hash FROM log_heads WHERE org_id = $1 AND log_id = $2`, orgID, logID))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Head{}, checkOrg(ctx, s.pool, orgID)
	}
	return head, err
}

func scanHead(row pgx.Row) (store.Head, error) {
	var pos int64
	var hash []byte
	if err := row.Scan(&pos, &hash); err != nil {
		return store.Head{}, err
	}
	return store.Head{Position: uint64(pos), Hash: hash}, nil
}

func scanEntry(row pgx.CollectableRow) (store.LogEntry, error) {
	var e store.LogEntry
	var pos int64
	var received pgtype.Timestamptz
	if err := row.Scan(&pos, &e.PrevHash, &e.Hash, &e.Data, &received); err != nil {
		return store.LogEntry{}, err
	}
	e.Position, e.ReceivedAt = uint64(pos), fromTimestamptz(received)
	return e, nil
}
