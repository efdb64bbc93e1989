package blockdir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/coffre/coffre/server/store"
)

var _ store.BlockBorrowing = (*Store)(nil)

// GetBlockInto reads a block into a buffer of alloc's, as GetBlock reads
// it (store.BlockBorrowing): a block file is read with one read of its
// size into the buffer, not into a new one; a small block comes from the
// small-block store, in memory of its own (nil buffer).
func (s *Store) GetBlockInto(ctx context.Context, orgID, vaultID, blockID string, alloc func(n int) *[]byte) ([]byte, *[]byte, error) {
	data, buf, err := s.getBlockInto(ctx, orgID, vaultID, blockID, alloc)
	if err != nil {
		return nil, nil, fmt.Errorf("getting block %q of vault %q of %q: %w", blockID, vaultID, orgID, err)
	}
	return data, buf, nil
}

func (s *Store) getBlockInto(ctx context.Context, orgID, vaultID, blockID string, alloc func(n int) *[]byte) ([]byte, *[]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if data, err := s.getSmall(ctx, orgID, vaultID, blockID); !errors.Is(err, store.ErrNotFound) {
		return data, nil, err
	}
	_, path, err := s.path(orgID, vaultID, blockID)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, store.ErrNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := info.Size()
	if size > store.MaxBlockSize {
		return nil, nil, fmt.Errorf("block file %s is %d bytes, more than any block", path, size)
	}
	// A block file is written once, before it is linked under its name
	// (PutBlock), so its size is the block's.
	buf := alloc(readLen(int(size)))
	if err := readFile(f, *buf, int(size)); err != nil {
		return nil, nil, err
	}
	return (*buf)[:size], buf, nil
}
