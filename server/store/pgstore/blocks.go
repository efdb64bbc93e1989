package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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
	if err := checkPut(ctx, orgID, vaultID, blockID, data); err != nil {
		return err
	}
	if data == nil {
		data = []byte{} // NULL is not an empty block
	}
	tag, err := b.s.pool.Exec(ctx, insertBlock, orgID, vaultID, blockID, data)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	return b.compare(ctx, orgID, vaultID, blockID, data)
}

// insertBlock stores a block unless its id is taken: then it inserts
// nothing, and compare tells the same bytes from others.
const insertBlock = `INSERT INTO blocks (org_id, vault_id, block_id, data) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`

func checkPut(ctx context.Context, orgID, vaultID, blockID string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(data) > store.MaxBlockSize {
		return fmt.Errorf("%d bytes: %w", len(data), store.ErrBlockTooLarge)
	}
	return store.CheckBlockIDs(orgID, vaultID, blockID)
}

// compare is nil if the block stored under the id has data,
// store.ErrExists if other bytes. It is called after an insert that found
// the id taken: there already, or a racing put committed first (the
// insert waited for it); this statement's snapshot sees it.
func (b *Blocks) compare(ctx context.Context, orgID, vaultID, blockID string, data []byte) error {
	var same bool
	err := b.s.pool.QueryRow(ctx, `SELECT data = $4 FROM blocks WHERE org_id = $1 AND vault_id = $2 AND block_id = $3`,
		orgID, vaultID, blockID, data).Scan(&same)
	switch {
	case err != nil:
		return err
	case !same:
		return store.ErrExists
	}
	return nil
}

var _ store.ReservingPutter = (*Blocks)(nil)

// PutBlockReserved reserves n bytes of the organisation's storage and
// stores the block in one round trip, where ReserveStorage then PutBlock
// make two: the reservation's transaction, committed without waiting for
// the flush as ReserveStorage's is (it says why), then the block's
// insert, committed durably, later in the write-ahead log, so that its
// flush covers the reservation too. The reservation's statement fails when
// it reserves nothing (quota exceeded, or no such organisation), so that
// PostgreSQL skips the insert pipelined after it.
func (b *Blocks) PutBlockReserved(ctx context.Context, orgID, vaultID, blockID string, data []byte, n int64) error {
	if err := b.putBlockReserved(ctx, orgID, vaultID, blockID, data, n); err != nil {
		return fmt.Errorf("putting block %q of vault %q of %q: %w", blockID, vaultID, orgID, err)
	}
	return nil
}

// reserveOrFail is ReserveStorage's statement, made to fail with a
// division by zero (SQLSTATE 22012) when it updates no row: count(*) is
// not a constant, so the division is evaluated when the statement runs,
// after the update.
const reserveOrFail = `WITH r AS (UPDATE organisations SET used_bytes = GREATEST(0, used_bytes + $2::bigint)
		WHERE id = $1 AND ($2::bigint <= 0 OR storage_limit = 0 OR used_bytes + $2::bigint <= storage_limit)
		RETURNING used_bytes)
	SELECT 1 / count(*) FROM r`

const divisionByZero = "22012"

func (b *Blocks) putBlockReserved(ctx context.Context, orgID, vaultID, blockID string, data []byte, n int64) error {
	if err := checkPut(ctx, orgID, vaultID, blockID, data); err != nil {
		return err
	}
	if data == nil {
		data = []byte{} // NULL is not an empty block
	}
	reserved, inserted, err := b.reserveAndInsert(ctx, orgID, vaultID, blockID, data, n)
	if _, ok := pgError(err, divisionByZero); ok {
		if _, err := b.s.Organisation(ctx, orgID); err != nil {
			return err
		}
		return store.ErrQuotaExceeded
	}
	if err == nil && !inserted {
		err = b.compare(ctx, orgID, vaultID, blockID, data)
	}
	if err != nil && reserved {
		// Known to be committed: given back. A reservation whose
		// commit's answer was lost stays counted, the safe side.
		b.s.ReserveStorage(context.WithoutCancel(ctx), orgID, -n)
	}
	return err
}

// reserveAndInsert sends PutBlockReserved's round trip on a connection of
// its own, released before the caller's next statements (which take
// another: holding one while waiting for a second could exhaust the pool).
func (b *Blocks) reserveAndInsert(ctx context.Context, orgID, vaultID, blockID string, data []byte, n int64) (reserved, inserted bool, err error) {
	conn, err := b.s.pool.Acquire(ctx)
	if err != nil {
		return false, false, err
	}
	// A reservation that failed leaves its transaction aborted: rolled
	// back here, the connection stays in the pool (it closes one released
	// inside a transaction).
	defer func() {
		if conn.Conn().PgConn().TxStatus() != 'I' {
			conn.Exec(context.WithoutCancel(ctx), `ROLLBACK`)
		}
		conn.Release()
	}()
	batch := &pgx.Batch{}
	batch.Queue(`BEGIN`)
	batch.Queue(`SET LOCAL synchronous_commit = off`)
	batch.Queue(reserveOrFail, orgID, n)
	batch.Queue(`COMMIT`).Exec(func(pgconn.CommandTag) error {
		reserved = true
		return nil
	})
	batch.Queue(insertBlock, orgID, vaultID, blockID, data).Exec(func(tag pgconn.CommandTag) error {
		inserted = tag.RowsAffected() == 1
		return nil
	})
	err = conn.SendBatch(ctx, batch).Close()
	return reserved, inserted, err
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
			batch.Queue(insertBlock, orgID, vaultID, bl.ID, blocks[i].Data)
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
