package pgstore

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/coffre/coffre/server/store"
)

const orgColumns = `id, name, bootstrap_token_hash, root_verify_key, created_at, bootstrapped_at, storage_limit, user_limit, used_bytes`

// CreateOrganisation records org and the head of its empty log.
func (s *Store) CreateOrganisation(ctx context.Context, org store.Organisation) error {
	if org.ID == "" {
		return errors.New("creating organisation: empty id")
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		return insertOrg(ctx, tx, org)
	})
	if err != nil {
		return fmt.Errorf("creating organisation %s: %w", org.ID, err)
	}
	return nil
}

// insertOrg is CreateOrganisation in tx, which Restore shares.
func insertOrg(ctx context.Context, tx pgx.Tx, org store.Organisation) error {
	_, err := tx.Exec(ctx, `INSERT INTO organisations (`+orgColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		org.ID, org.Name, org.BootstrapTokenHash, org.RootVerifyKey, timestamptz(org.CreatedAt), timestamptz(org.BootstrappedAt),
		org.Limits.StorageBytes, org.Limits.Users, org.UsedBytes)
	if _, ok := pgError(err, uniqueViolation); ok {
		return store.ErrExists
	}
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO log_heads (org_id, log_id, position) VALUES ($1, $2, 0)`, org.ID, orgLogID)
	return err
}

// Organisation returns one organisation.
func (s *Store) Organisation(ctx context.Context, id string) (store.Organisation, error) {
	org, err := scanOrg(s.pool.QueryRow(ctx, `SELECT `+orgColumns+` FROM organisations WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = fmt.Errorf("organisation %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Organisation{}, fmt.Errorf("reading organisation %s: %w", id, err)
	}
	return org, nil
}

// Organisations lists every organisation, by id.
func (s *Store) Organisations(ctx context.Context) ([]store.Organisation, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+orgColumns+` FROM organisations ORDER BY id`)
	var orgs []store.Organisation
	if err == nil {
		orgs, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Organisation, error) { return scanOrg(row) })
	}
	if err != nil {
		return nil, fmt.Errorf("listing organisations: %w", err)
	}
	return orgs, nil
}

// Bootstrap spends the bootstrap token, records the root key and appends
// the first entries in one transaction.
func (s *Store) Bootstrap(ctx context.Context, orgID string, tokenHash, rootKey []byte, entries []store.LogEntry, at time.Time) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var stored []byte
		err := tx.QueryRow(ctx, `SELECT bootstrap_token_hash FROM organisations WHERE id = $1 FOR NO KEY UPDATE`, orgID).Scan(&stored)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("organisation %w", store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		// An empty stored hash means already bootstrapped: it must not
		// match an empty token.
		if len(stored) == 0 || subtle.ConstantTimeCompare(stored, tokenHash) != 1 {
			return store.ErrBadToken
		}
		if _, err := appendEntries(ctx, tx, orgID, orgLogID, entries); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE organisations SET bootstrap_token_hash = NULL, root_verify_key = $2, bootstrapped_at = $3 WHERE id = $1`,
			orgID, rootKey, timestamptz(at))
		return err
	})
	if err != nil {
		return fmt.Errorf("bootstrapping organisation %s: %w", orgID, err)
	}
	return nil
}

func scanOrg(row pgx.Row) (store.Organisation, error) {
	var o store.Organisation
	var created, bootstrapped pgtype.Timestamptz
	if err := row.Scan(&o.ID, &o.Name, &o.BootstrapTokenHash, &o.RootVerifyKey, &created, &bootstrapped,
		&o.Limits.StorageBytes, &o.Limits.Users, &o.UsedBytes); err != nil {
		return store.Organisation{}, err
	}
	o.CreatedAt, o.BootstrappedAt = fromTimestamptz(created), fromTimestamptz(bootstrapped)
	return o, nil
}

// SetLimits sets an organisation's quotas.
func (s *Store) SetLimits(ctx context.Context, orgID string, l store.Limits) error {
	tag, err := s.pool.Exec(ctx, `UPDATE organisations SET storage_limit = $2, user_limit = $3 WHERE id = $1`,
		orgID, l.StorageBytes, l.Users)
	if err == nil && tag.RowsAffected() == 0 {
		err = fmt.Errorf("organisation %w", store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("setting limits of %s: %w", orgID, err)
	}
	return nil
}

// ReserveStorage adds n bytes to the organisation's usage, within its
// quota, in one statement: concurrent reservations from several processes
// can't together exceed it.
//
// The statement holds the organisation's row locked until its transaction
// ends, and every write of the organisation reserves: at synchronous_commit
// on, each would hold it across its own flush of the write-ahead log, so
// that the organisation's writes took turns at the disk's pace (113 writes
// a second, BENCHMARKS.md). The reservation therefore commits without
// waiting for the flush, in one round trip. What it reserved for is stored
// after it returns, so a durable block in this database, or a durable
// entry naming a block, is later in the log and flushes it too; a crash of
// PostgreSQL can only lose the reservations of the blocks stored in its
// last moments (three times wal_writer_delay, 0.6 s by default) and not
// yet named by an entry: on S3 or in a directory, those few blocks are then
// stored uncounted. A release (n < 0) that is lost leaves bytes counted
// that are no longer stored: the safe side.
func (s *Store) ReserveStorage(ctx context.Context, orgID string, n int64) (int64, error) {
	var used int64
	reserved := false
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(`SET LOCAL synchronous_commit = off`)
	b.Queue(`UPDATE organisations SET used_bytes = GREATEST(0, used_bytes + $2::bigint)
		WHERE id = $1 AND ($2::bigint <= 0 OR storage_limit = 0 OR used_bytes + $2::bigint <= storage_limit)
		RETURNING used_bytes`, orgID, n).QueryRow(func(row pgx.Row) error {
		err := row.Scan(&used)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		reserved = err == nil
		return err
	})
	b.Queue(`COMMIT`)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("reserving storage for %s: %w", orgID, err)
	}
	if !reserved {
		if _, err := s.Organisation(ctx, orgID); err != nil {
			return 0, err
		}
		return 0, store.ErrQuotaExceeded
	}
	return used, nil
}
