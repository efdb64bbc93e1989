package s3blocks

import (
	"context"
	"fmt"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/coffre/coffre/server/store"
)

var _ store.BlockCollector = (*Blocks)(nil)

// BlockVaults lists the vaults of an organisation that have objects
// (the common prefixes ORG/VAULT/).
func (b *Blocks) BlockVaults(ctx context.Context, orgID string) ([]string, error) {
	if err := store.CheckBlockIDs(orgID, "vaultid0", "blockid0"); err != nil {
		return nil, err
	}
	prefix := b.prefix + orgID + "/"
	var vaults []string
	for obj := range b.client.ListObjects(ctx, b.bucket, minio.ListObjectsOptions{Prefix: prefix}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("listing the vaults of %q: %w", orgID, obj.Err)
		}
		vault, ok := strings.CutSuffix(strings.TrimPrefix(obj.Key, prefix), "/")
		if ok && store.CheckBlockIDs(orgID, vault, "blockid0") == nil {
			vaults = append(vaults, vault)
		}
	}
	return vaults, nil
}

// ListBlocks calls fn with each object of a vault, its size and its
// LastModified time, which the object store sets when the put completes
// (a block is never put again).
func (b *Blocks) ListBlocks(ctx context.Context, orgID, vaultID string, fn func(store.BlockInfo) error) error {
	if err := store.CheckBlockIDs(orgID, vaultID, "blockid0"); err != nil {
		return err
	}
	prefix := b.prefix + orgID + "/" + vaultID + "/"
	ctx, cancel := context.WithCancel(ctx) // stops the listing if fn fails
	defer cancel()
	for obj := range b.client.ListObjects(ctx, b.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return fmt.Errorf("listing the blocks of vault %q of %q: %w", vaultID, orgID, obj.Err)
		}
		id := strings.TrimPrefix(obj.Key, prefix)
		if store.CheckBlockIDs(orgID, vaultID, id) != nil {
			continue
		}
		if err := fn(store.BlockInfo{ID: id, Size: obj.Size, Stored: obj.LastModified}); err != nil {
			return err
		}
	}
	return nil
}

// DeleteBlocks removes blocks' objects with S3's multi-object delete
// (up to 1,000 keys a request; S3 answers a delete of a missing object
// with success).
func (b *Blocks) DeleteBlocks(ctx context.Context, orgID, vaultID string, blockIDs []string) error {
	err := store.CheckVaultBlockIDs(orgID, vaultID, blockIDs)
	if err == nil {
		objects := make(chan minio.ObjectInfo, len(blockIDs))
		for _, id := range blockIDs {
			objects <- minio.ObjectInfo{Key: b.key(orgID, vaultID, id)}
		}
		close(objects)
		for result := range b.client.RemoveObjects(ctx, b.bucket, objects, minio.RemoveObjectsOptions{}) {
			if err == nil && result.Err != nil {
				err = fmt.Errorf("block %q: %w", result.ObjectName, result.Err)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("deleting %d blocks of vault %q of %q: %w", len(blockIDs), vaultID, orgID, err)
	}
	return nil
}
