package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/coffre/coffre/server/store"
)

var _ store.BlockCollector = (*Blocks)(nil)

// BlockVaults lists the vaults of an organisation that have blocks.
func (b *Blocks) BlockVaults(ctx context.Context, orgID string) ([]string, error) {
	rows, err := b.s.pool.Query(ctx, `SELECT DISTINCT vault_id FROM blocks WHERE org_id = $1 ORDER BY vault_id`, orgID)
	if err == nil {
		var vaults []string
		if vaults, err = pgx.CollectRows(rows, pgx.RowTo[string]); err == nil {
			return vaults, nil
		}
	}
	return nil, fmt.Errorf("listing the vaults of %q: %w", orgID, err)
}

// ListBlocks calls fn with each block of a vault, its size and when its
// row was inserted (schema 5: blocks stored before it count from the
// migration).
func (b *Blocks) ListBlocks(ctx context.Context, orgID, vaultID string, fn func(store.BlockInfo) error) error {
	rows, err := b.s.pool.Query(ctx, `SELECT block_id, octet_length(data), stored_at FROM blocks WHERE org_id = $1 AND vault_id = $2`, orgID, vaultID)
	if err != nil {
		return fmt.Errorf("listing the blocks of vault %q of %q: %w", vaultID, orgID, err)
	}
	// Read whole before fn runs: fn may use the pool (DeleteBlocks).
	infos, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.BlockInfo, error) {
		var i store.BlockInfo
		var at pgtype.Timestamptz
		err := row.Scan(&i.ID, &i.Size, &at)
		i.Stored = fromTimestamptz(at)
		return i, err
	})
	if err != nil {
		return fmt.Errorf("listing the blocks of vault %q of %q: %w", vaultID, orgID, err)
	}
	for _, i := range infos {
		if err := fn(i); err != nil {
			return err
		}
	}
	return nil
}

// DeleteBlocks deletes blocks' rows, in one statement.
func (b *Blocks) DeleteBlocks(ctx context.Context, orgID, vaultID string, blockIDs []string) error {
	err := store.CheckVaultBlockIDs(orgID, vaultID, blockIDs)
	if err == nil {
		_, err = b.s.pool.Exec(ctx, `DELETE FROM blocks WHERE org_id = $1 AND vault_id = $2 AND block_id = ANY($3)`, orgID, vaultID, blockIDs)
	}
	if err != nil {
		return fmt.Errorf("deleting %d blocks of vault %q of %q: %w", len(blockIDs), vaultID, orgID, err)
	}
	return nil
}
