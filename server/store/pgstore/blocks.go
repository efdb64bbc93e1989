package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/server/store"
)

// Blocks is a store.BlockStore in the database of a Store, table blocks:
// for small installs, and so that every server process sharing the
// database shares the blocks too, with nothing else to set up. Each block
// is one row, its bytes kept uncompressed out of line (they are
// ciphertext). Larger installs keep blocks in a directory (blockdir),
// which reads large blocks faster and keeps the database small.
type Blocks struct {
	s *Store
}

var _ store.BlockStore = (*Blocks)(nil)

// NewBlocks returns the block store in s's database. It uses s's
// connections: close s, not it.
func NewBlocks(s *Store) *Blocks { return &Blocks{s: s} }

// Close does nothing: the connections are the Store's.
func (b *Blocks) Close() error { return nil }

// PutBlock stores a block, committed before it returns. Of puts racing on
// one id exactly one inserts it; the others, and a put of a block already
// there, compare their bytes with what is stored: the same is success,
// others are store.ErrExists.
func (b *Blocks) PutBlock(ctx context.Context, orgID, vaultID, blockID string, data []byte) error {
	if err := b.putBlock(ctx, orgID, vaultID, blockID, data); err != nil {
		return fmt.Errorf("putting block %q of vault %q of %q: %w", blockID, vaultID, orgID, err)
	}
	return nil
}

func (b *Blocks) putBlock(ctx context.Context, orgID, vaultID, blockID string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(data) > store.MaxBlockSize {
		return fmt.Errorf("%d bytes: %w", len(data), store.ErrBlockTooLarge)
	}
	if err := store.CheckBlockIDs(orgID, vaultID, blockID); err != nil {
		return err
	}
	if data == nil {
		data = []byte{} // NULL is not an empty block
	}
	tag, err := b.s.pool.Exec(ctx, `INSERT INTO blocks (org_id, vault_id, block_id, data) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, orgID, vaultID, blockID, data)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	// There already, or a racing put committed first (the insert waited
	// for it): this statement's snapshot sees it.
	var same bool
	err = b.s.pool.QueryRow(ctx, `SELECT data = $4 FROM blocks WHERE org_id = $1 AND vault_id = $2 AND block_id = $3`,
		orgID, vaultID, blockID, data).Scan(&same)
	switch {
	case err != nil:
		return err
	case !same:
		return store.ErrExists
	}
	return nil
}

var _ store.BlockBatcher = (*Blocks)(nil)

// PutBlocks stores blocks of one vault in one transaction: one commit,
// one flush of the write-ahead log, for the batch, where PutBlock commits
// each. Each block is inserted as by PutBlock, then those already there
// are compared; a block there with other bytes refuses the whole batch
// (store.ErrExists), nothing of it stored.
func (b *Blocks) PutBlocks(ctx context.Context, orgID, vaultID string, blocks []store.BlockData) error {
	if err := b.putBlocks(ctx, orgID, vaultID, blocks); err != nil {
		return fmt.Errorf("putting blocks of vault %q of %q: %w", vaultID, orgID, err)
	}
	return nil
}

func (b *Blocks) putBlocks(ctx context.Context, orgID, vaultID string, blocks []store.BlockData) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, bl := range blocks {
		if len(bl.Data) > store.MaxBlockSize {
			return fmt.Errorf("block %q: %d bytes: %w", bl.ID, len(bl.Data), store.ErrBlockTooLarge)
		}
		if err := store.CheckBlockIDs(orgID, vaultID, bl.ID); err != nil {
			return err
		}
	}
	blocks = slices.Clone(blocks) // empty data set below, the caller's slice untouched
	return b.s.inTx(ctx, func(tx pgx.Tx) error {
		var batch pgx.Batch
		for i, bl := range blocks {
			if bl.Data == nil {
				blocks[i].Data = []byte{} // NULL is not an empty block
			}
			batch.Queue(`INSERT INTO blocks (org_id, vault_id, block_id, data) VALUES ($1, $2, $3, $4)
				ON CONFLICT DO NOTHING`, orgID, vaultID, bl.ID, blocks[i].Data)
		}
		res := tx.SendBatch(ctx, &batch)
		var there []store.BlockData
		for _, bl := range blocks {
			tag, err := res.Exec()
			if err != nil {
				res.Close()
				return err
			}
			if tag.RowsAffected() == 0 {
				there = append(there, bl)
			}
		}
		if err := res.Close(); err != nil {
			return err
		}
		for _, bl := range there {
			var same bool
			err := tx.QueryRow(ctx, `SELECT data = $4 FROM blocks WHERE org_id = $1 AND vault_id = $2 AND block_id = $3`,
				orgID, vaultID, bl.ID, bl.Data).Scan(&same)
			switch {
			case err != nil:
				return err
			case !same:
				return fmt.Errorf("block %q: %w", bl.ID, store.ErrExists)
			}
		}
		return nil
	})
}

// GetBlock returns a block (store.ErrNotFound if there is none).
func (b *Blocks) GetBlock(ctx context.Context, orgID, vaultID, blockID string) ([]byte, error) {
	data, err := b.getBlock(ctx, orgID, vaultID, blockID)
	if err != nil {
		return nil, fmt.Errorf("getting block %q of vault %q of %q: %w", blockID, vaultID, orgID, err)
	}
	return data, nil
}

func (b *Blocks) getBlock(ctx context.Context, orgID, vaultID, blockID string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := store.CheckBlockIDs(orgID, vaultID, blockID); err != nil {
		return nil, err
	}
	var data []byte
	err := b.s.pool.QueryRow(ctx, `SELECT data FROM blocks WHERE org_id = $1 AND vault_id = $2 AND block_id = $3`,
		orgID, vaultID, blockID).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}
