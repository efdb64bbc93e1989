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
	if head, err = queueEntries(&batch, orgID, logID, head, entries); err != nil {
		return store.Head{}, err
	}
	batch.Queue(`UPDATE log_heads SET position = $3, hash = $4 WHERE org_id = $1 AND log_id = $2`,
		orgID, logID, int64(head.Position), head.Hash)
	if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
		return store.Head{}, err
	}
	return head, nil
}

// queueEntries checks that entries extend head and queues their inserts
// into b; it returns the head after them, which the caller moves the log's
// row to.
func queueEntries(b *pgx.Batch, orgID, logID string, head store.Head, entries []store.LogEntry) (store.Head, error) {
	for _, e := range entries {
		if e.Position != head.Position+1 || (head.Position > 0 && !bytes.Equal(e.PrevHash, head.Hash)) {
			return store.Head{}, fmt.Errorf("entry at position %d after head %d: %w", e.Position, head.Position, store.ErrConflict)
		}
		b.Queue(`INSERT INTO log_entries (org_id, log_id, position, prev_hash, hash, data, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			orgID, logID, int64(e.Position), e.PrevHash, e.Hash, e.Data, timestamptz(e.ReceivedAt))
		head = store.Head{Position: e.Position, Hash: e.Hash}
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
// of the log; it also tells an organisation that does not exist (no row)
// from a log with no entries there (one row of NULLs), in one round trip:
// every authenticated call reads the organisation log beyond the server's
// snapshot, and usually finds nothing.
func (s *Store) readEntries(ctx context.Context, orgID, logID string, from uint64, limit int) ([]store.LogEntry, error) {
	b := &pgx.Batch{}
	read := queueReadEntries(b, orgID, logID, from, limit)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	return read.result()
}

// entriesRead is the answer of a read queued by queueReadEntries, once its
// batch is closed.
type entriesRead struct {
	entries []store.LogEntry
	found   bool // the organisation exists
}

func (r *entriesRead) result() ([]store.LogEntry, error) {
	if !r.found {
		return nil, fmt.Errorf("organisation %w", store.ErrNotFound)
	}
	return r.entries, nil
}

// queueReadEntries queues readEntries' statement into b, so that it can
// share a round trip with others (Nonces.FreshReadLog).
func queueReadEntries(b *pgx.Batch, orgID, logID string, from uint64, limit int) *entriesRead {
	r := &entriesRead{}
	b.Queue(`SELECT e.position, e.prev_hash, e.hash, e.data, e.received_at FROM organisations o
		LEFT JOIN LATERAL (SELECT position, prev_hash, hash, data, received_at FROM log_entries
			WHERE org_id = o.id AND log_id = $2 AND position >= $3 ORDER BY position LIMIT $4) e ON true
		WHERE o.id = $1 ORDER BY e.position`,
		orgID, logID, int64(min(from, math.MaxInt64)), max(limit, 0)).Query(func(rows pgx.Rows) error {
		var pos pgtype.Int8
		var e store.LogEntry
		var received pgtype.Timestamptz
		_, err := pgx.ForEachRow(rows, []any{&pos, &e.PrevHash, &e.Hash, &e.Data, &received}, func() error {
			r.found = true
			if pos.Valid {
				e.Position, e.ReceivedAt = uint64(pos.Int64), fromTimestamptz(received)
				r.entries = append(r.entries, e)
			}
			e = store.LogEntry{}
			return nil
		})
		return err
	})
	return r
}

// LogHead returns the last entry's position and hash.
func (s *Store) LogHead(ctx context.Context, orgID string) (store.Head, error) {
	head, err := s.head(ctx, orgID, orgLogID)
	if err != nil {
		return store.Head{}, fmt.Errorf("reading the log head of %s: %w", orgID, err)
	}
	return head, nil
}

// head reads the head of one log without locking it, telling an
// organisation that does not exist (no row) from a log never appended to
// (NULLs) in the same statement.
func (s *Store) head(ctx context.Context, orgID, logID string) (store.Head, error) {
	b := &pgx.Batch{}
	read := queueHead(b, orgID, logID)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return store.Head{}, err
	}
	return read.result()
}

// headRead is the answer of a read queued by queueHead, once its batch is
// closed.
type headRead struct {
	head  store.Head
	found bool // the organisation exists
}

func (r *headRead) result() (store.Head, error) {
	if !r.found {
		return store.Head{}, fmt.Errorf("organisation %w", store.ErrNotFound)
	}
	return r.head, nil
}

// queueHead queues head's statement into b, so that it can share a round
// trip with others (ReadVaultLogHeads).
func queueHead(b *pgx.Batch, orgID, logID string) *headRead {
	r := &headRead{}
	b.Queue(`SELECT h.position, h.hash FROM organisations o
		LEFT JOIN log_heads h ON h.org_id = o.id AND h.log_id = $2 WHERE o.id = $1`, orgID, logID).Query(func(rows pgx.Rows) error {
		var pos pgtype.Int8
		var hash []byte
		_, err := pgx.ForEachRow(rows, []any{&pos, &hash}, func() error {
			r.found = true
			if pos.Valid {
				r.head = store.Head{Position: uint64(pos.Int64), Hash: hash}
			}
			return nil
		})
		return err
	})
	return r
}

func scanHead(row pgx.Row) (store.Head, error) {
	var pos int64
	var hash []byte
	if err := row.Scan(&pos, &hash); err != nil {
		return store.Head{}, err
	}
	return store.Head{Position: uint64(pos), Hash: hash}, nil
}
