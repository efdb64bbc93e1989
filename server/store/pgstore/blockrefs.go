package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Block garbage collection (SPEC.md §7.5), schema 5: log_heads.declared
// counts the entries of a vault log that declared their blocks, and
// vault_blocks holds each block id an entry declared (collected false) or
// a collection condemned (collected true). Appends (appendVault) and
// condemnations of one vault both lock the vault's row of log_heads first,
// so they take turns, whichever server process runs them; and a block id
// has one row, written once.

// BlocksDeclared reports whether every entry of a vault's log declared
// its blocks (true for a vault never appended to).
func (s *Store) BlocksDeclared(ctx context.Context, orgID, vaultID string) (bool, error) {
	ok, err := s.blocksDeclared(ctx, orgID, vaultID)
	if err != nil {
		return false, fmt.Errorf("reading the block declarations of vault %q of %s: %w", vaultID, orgID, err)
	}
	return ok, nil
}

func (s *Store) blocksDeclared(ctx context.Context, orgID, vaultID string) (bool, error) {
	if err := checkVaultID(vaultID); err != nil {
		return false, err
	}
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT declared = position FROM log_heads WHERE org_id = $1 AND log_id = $2`, orgID, vaultID).Scan(&ok)
	if errors.Is(err, pgx.ErrNoRows) {
		return true, checkOrg(ctx, s.pool, orgID)
	}
	return ok, err
}

// CondemnBlocks records as collected the ids no entry declared, with the
// vault's head row locked: no append of the vault, in any process, runs
// in between.
func (s *Store) CondemnBlocks(ctx context.Context, orgID, vaultID string, ids []string, dryRun bool) (fresh, earlier []string, err error) {
	err = checkVaultID(vaultID)
	switch {
	case err != nil:
	case dryRun:
		fresh, earlier, err = s.wouldCondemn(ctx, orgID, vaultID, ids)
	default:
		err = s.inTx(ctx, func(tx pgx.Tx) (err error) {
			fresh, earlier, err = condemn(ctx, tx, orgID, vaultID, ids)
			return err
		})
	}
	if err != nil {
		return nil, nil, fmt.Errorf("condemning blocks of vault %q of %s: %w", vaultID, orgID, err)
	}
	return fresh, earlier, nil
}

func condemn(ctx context.Context, tx pgx.Tx, orgID, vaultID string, ids []string) (fresh, earlier []string, err error) {
	// Made if the vault was never appended to, so that there is a row to
	// lock against a first append.
	if _, err := lockHead(ctx, tx, orgID, vaultID, true); err != nil {
		return nil, nil, err
	}
	var ok bool
	if err := tx.QueryRow(ctx, `SELECT declared = position FROM log_heads WHERE org_id = $1 AND log_id = $2`, orgID, vaultID).Scan(&ok); err != nil || !ok {
		return nil, nil, err
	}
	rows, err := tx.Query(ctx, `SELECT block_id FROM vault_blocks WHERE org_id = $1 AND vault_id = $2 AND block_id = ANY($3) AND collected ORDER BY block_id`,
		orgID, vaultID, ids)
	if err != nil {
		return nil, nil, err
	}
	if earlier, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, nil, err
	}
	rows, err = tx.Query(ctx, `INSERT INTO vault_blocks (org_id, vault_id, block_id, collected)
		SELECT $1, $2, id, true FROM unnest($3::text[]) AS id ON CONFLICT DO NOTHING RETURNING block_id`, orgID, vaultID, ids)
	if err != nil {
		return nil, nil, err
	}
	fresh, err = pgx.CollectRows(rows, pgx.RowTo[string])
	return fresh, earlier, err
}

// wouldCondemn is CondemnBlocks' dry run: one statement, one snapshot.
func (s *Store) wouldCondemn(ctx context.Context, orgID, vaultID string, ids []string) (fresh, earlier []string, err error) {
	ok, err := s.blocksDeclared(ctx, orgID, vaultID)
	if err != nil || !ok {
		return nil, nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT id, b.collected FROM unnest($3::text[]) AS id
		LEFT JOIN vault_blocks b ON b.org_id = $1 AND b.vault_id = $2 AND b.block_id = id
		WHERE b.collected IS NULL OR b.collected ORDER BY id`, orgID, vaultID, ids)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var collected *bool
		if err := rows.Scan(&id, &collected); err != nil {
			return nil, nil, err
		}
		if collected == nil {
			fresh = append(fresh, id)
		} else {
			earlier = append(earlier, id)
		}
	}
	return fresh, earlier, rows.Err()
}
