package blockdir

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/coffre/coffre/server/store"
)

// SmallBlockMax is the largest block of a batch kept in the SmallBlocks
// store rather than as a file: below it, making, syncing and naming a
// file costs more than writing the bytes (BENCHMARKS.md, i15-small).
const SmallBlockMax = 128 << 10

// UseSmallBlocks makes the store keep the blocks of PutBlocks of at most
// SmallBlockMax bytes in small, one transaction per batch, instead of a
// file each (SPEC.md §7.4). Call it before the store is used; small must
// stay open as long as the store.
func (s *Store) UseSmallBlocks(small store.SmallBlocks) { s.small = small }

// splitSmall separates the blocks that go to the small-block store, if
// there is one, from those that become files.
func (s *Store) splitSmall(blocks []store.BlockData) (small, files []store.BlockData) {
	if s.small == nil {
		return nil, blocks
	}
	for _, b := range blocks {
		if len(b.Data) <= SmallBlockMax {
			small = append(small, b)
		} else {
			files = append(files, b)
		}
	}
	return small, files
}

var _ store.ReservingBatcher = (*Store)(nil)

// PutBlocksReserved stores a batch whose blocks are all small, and
// reserves its storage, in one transaction of the small-block store.
func (s *Store) PutBlocksReserved(ctx context.Context, orgID, vaultID string, blocks []store.BlockData, n int64) (bool, error) {
	small, files := s.splitSmall(blocks)
	if len(small) == 0 || len(files) > 0 {
		return false, nil
	}
	return true, s.putSmall(ctx, orgID, vaultID, small, n)
}

// putSmall stores blocks in the small-block store, in one transaction
// that also reserves n bytes of storage if n > 0. A block id is kept in
// one place only: a block already stored as a file is compared there and
// not stored again.
func (s *Store) putSmall(ctx context.Context, orgID, vaultID string, blocks []store.BlockData, n int64) error {
	if len(blocks) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rest := make([]store.BlockData, 0, len(blocks))
	for _, b := range blocks {
		dir, path, err := s.path(orgID, vaultID, b.ID)
		if err == nil {
			err = s.compare(dir, path, b.Data)
		}
		switch {
		case errors.Is(err, fs.ErrNotExist):
			rest = append(rest, b)
		case err != nil:
			return fmt.Errorf("putting block %q of vault %q of %q: %w", b.ID, vaultID, orgID, err)
		}
	}
	if len(rest) == 0 && n <= 0 {
		return nil
	}
	return s.small.PutSmallBlocks(ctx, orgID, vaultID, rest, n)
}

// compareSmall is compare for the small-block store: nil if it holds the
// block with data, store.ErrExists if with other bytes, fs.ErrNotExist
// if it does not hold it (or there is none).
//
// It and putSmall check each other's store before writing to their own;
// two puts of one id racing, one as a file and one small, could both
// find nothing. Only the uploader knows a block id before the block is
// stored (others learn it from an entry, appended after), so such a race
// is one client's own retry, with the same bytes: GetBlock returns the
// small copy, the same.
func (s *Store) compareSmall(ctx context.Context, orgID, vaultID, blockID string, data []byte) error {
	if s.small == nil {
		return fs.ErrNotExist
	}
	got, err := s.small.SmallBlock(ctx, orgID, vaultID, blockID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fs.ErrNotExist
	case err != nil:
		return err
	case !bytes.Equal(got, data):
		return store.ErrExists
	}
	return nil
}

// getSmall reads a block from the small-block store: store.ErrNotFound
// if it is not there (or there is none).
func (s *Store) getSmall(ctx context.Context, orgID, vaultID, blockID string) ([]byte, error) {
	if s.small == nil {
		return nil, store.ErrNotFound
	}
	return s.small.SmallBlock(ctx, orgID, vaultID, blockID)
}
