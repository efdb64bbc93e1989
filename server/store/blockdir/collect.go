package blockdir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/coffre/coffre/server/store"
)

var _ store.BlockCollector = (*Store)(nil)

// BlockVaults lists the vault directories of an organisation.
func (s *Store) BlockVaults(ctx context.Context, orgID string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := store.CheckBlockIDs(orgID, "vaultid0", "blockid0"); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(filepath.Join(s.dir, orgID))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("listing the vaults of %q: %w", orgID, err)
	}
	var vaults []string
	for _, e := range entries {
		if e.IsDir() && store.CheckBlockIDs(orgID, e.Name(), "blockid0") == nil {
			vaults = append(vaults, e.Name())
		}
	}
	if s.small == nil {
		return vaults, nil
	}
	small, err := s.small.SmallBlockVaults(ctx, orgID)
	if err != nil {
		return nil, err
	}
	for _, v := range small {
		if !slices.Contains(vaults, v) {
			vaults = append(vaults, v)
		}
	}
	return vaults, nil
}

// ListBlocks calls fn with each block file of a vault, its size and its
// modification time (when its bytes were written: a block is never
// written again), then with each of its small blocks. Temporary files,
// whose names start with a dot, are not blocks.
func (s *Store) ListBlocks(ctx context.Context, orgID, vaultID string, fn func(store.BlockInfo) error) error {
	if err := store.CheckBlockIDs(orgID, vaultID, "blockid0"); err != nil {
		return err
	}
	if err := s.listFiles(ctx, orgID, vaultID, fn); err != nil || s.small == nil {
		return err
	}
	return s.small.ListSmallBlocks(ctx, orgID, vaultID, fn)
}

// listFiles is ListBlocks for the block files.
func (s *Store) listFiles(ctx context.Context, orgID, vaultID string, fn func(store.BlockInfo) error) error {
	vaultDir := filepath.Join(s.dir, orgID, vaultID)
	shards, err := os.ReadDir(vaultDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing the blocks of vault %q of %q: %w", vaultID, orgID, err)
	}
	for _, shard := range shards {
		if !shard.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(vaultDir, shard.Name()))
		if err != nil {
			return fmt.Errorf("listing the blocks of vault %q of %q: %w", vaultID, orgID, err)
		}
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return err
			}
			name := f.Name()
			if strings.HasPrefix(name, ".") || !f.Type().IsRegular() || !strings.HasPrefix(name, shard.Name()) ||
				store.CheckBlockIDs(orgID, vaultID, name) != nil {
				continue
			}
			info, err := f.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted meanwhile
			}
			if err != nil {
				return fmt.Errorf("listing the blocks of vault %q of %q: %w", vaultID, orgID, err)
			}
			if err := fn(store.BlockInfo{ID: name, Size: info.Size(), Stored: info.ModTime()}); err != nil {
				return err
			}
		}
	}
	return nil
}

// DeleteBlocks removes blocks' files and syncs each directory that lost
// one, once, so that the deletions are durable before the space is given
// back; the small blocks among them go in one transaction.
func (s *Store) DeleteBlocks(ctx context.Context, orgID, vaultID string, blockIDs []string) error {
	if err := s.deleteBlocks(ctx, orgID, vaultID, blockIDs); err != nil {
		return fmt.Errorf("deleting %d blocks of vault %q of %q: %w", len(blockIDs), vaultID, orgID, err)
	}
	return nil
}

func (s *Store) deleteBlocks(ctx context.Context, orgID, vaultID string, blockIDs []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckVaultBlockIDs(orgID, vaultID, blockIDs); err != nil {
		return err
	}
	if s.small != nil {
		if err := s.small.DeleteSmallBlocks(ctx, orgID, vaultID, blockIDs); err != nil {
			return err
		}
	}
	var dirs []string
	for _, id := range blockIDs {
		dir, path, err := s.path(orgID, vaultID, id)
		if err == nil {
			err = os.Remove(path)
		}
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return err
		case !slices.Contains(dirs, dir):
			dirs = append(dirs, dir)
		}
	}
	for _, dir := range dirs {
		if err := s.syncDir(dir); err != nil {
			return err
		}
	}
	return nil
}
