package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/coffre/coffre/server/store"
)

// Block garbage collection (SPEC.md §7.5). The server can't read
// manifests, so a writer declares with each vault entry the blocks its
// manifests reference (VaultAppendRequest.block_ids); the store records
// them with the entry, in one transaction. A block that no entry of its
// vault declared, stored longer ago than the grace period, is an upload
// whose commit never came (a crash, a conflict, an abandoned put): it is
// condemned in the store, which from then on refuses any entry declaring
// it, then deleted. Every version stays in the vault log, so a block an
// entry declared is never collected; a vault with an entry that declared
// nothing (an older client, or entries from before collection existed) is
// never collected at all.

// DefaultGCGrace is how long an unreferenced block is kept: longer than
// any upload of the blocks of one commit.
const DefaultGCGrace = 24 * time.Hour

// maxDeclaredBlocks bounds the block ids one VaultAppend may declare: more
// than the manifests of an entry within gRPC's 16 MiB can reference
// (about 115 bytes of manifest per block).
const maxDeclaredBlocks = 200_000

// condemnBatch is how many block ids go to the store in one transaction.
const condemnBatch = 1000

// ErrNoBlockCollection is returned by CollectBlocks where there is no
// block store to collect: the operator's commands on a stopped server.
var ErrNoBlockCollection = errors.New("block collection runs in the running server, which holds the block store")

// ErrBlocksNotListable is returned for a block store that can't list or
// delete its blocks (it is not a store.BlockCollector).
var ErrBlocksNotListable = errors.New("this block store can't list or delete blocks")

// Collection is what one block collection did (or, in a dry run, would
// do).
type Collection struct {
	DryRun bool
	// Vaults holding blocks that were looked at; VaultsUndeclared of them
	// were skipped whole (an entry of theirs declared no blocks).
	Vaults, VaultsUndeclared int
	// Deleted blocks, of DeletedBytes bytes.
	Deleted      int
	DeletedBytes int64
	// Kept: Referenced by a committed entry, Recent (within the grace
	// period).
	Referenced, Recent int
}

// Collector deletes the blocks that no committed vault entry references
// once they are older than Grace (SPEC.md §7.5).
type Collector struct {
	Store  store.Store
	Blocks store.BlockStore
	// Grace is how long an unreferenced block is kept (0: DefaultGCGrace).
	Grace time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Logger hears of each collection (nil: nothing).
	Logger *slog.Logger
}

// Collect runs one collection over every organisation.
func (c *Collector) Collect(ctx context.Context, dryRun bool) (Collection, error) {
	col := Collection{DryRun: dryRun}
	bc, ok := c.Blocks.(store.BlockCollector)
	if !ok {
		return col, ErrBlocksNotListable
	}
	grace := c.Grace
	if grace <= 0 {
		grace = DefaultGCGrace
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	cutoff := now().Add(-grace)
	orgs, err := c.Store.Organisations(ctx)
	if err != nil {
		return col, err
	}
	for _, org := range orgs {
		vaults, err := bc.BlockVaults(ctx, org.ID)
		if err != nil {
			return col, err
		}
		for _, vault := range vaults {
			if err := c.collectVault(ctx, bc, org.ID, vault, cutoff, &col); err != nil {
				return col, fmt.Errorf("collecting the blocks of vault %s of %s: %w", vault, org.ID, err)
			}
		}
	}
	if c.Logger != nil {
		c.Logger.Info("blocks collected", "dry_run", dryRun, "vaults", col.Vaults, "vaults_undeclared", col.VaultsUndeclared,
			"deleted", col.Deleted, "deleted_bytes", col.DeletedBytes, "referenced", col.Referenced, "recent", col.Recent)
	}
	return col, nil
}

// collectVault condemns, then deletes, the blocks of one vault stored
// before cutoff that no entry declared. The order matters: once
// condemned, no append can declare a block, so none is deleted under an
// entry committed meanwhile; a collection cut short between the two finds
// the condemned blocks again and deletes them.
func (c *Collector) collectVault(ctx context.Context, bc store.BlockCollector, orgID, vaultID string, cutoff time.Time, col *Collection) error {
	col.Vaults++
	declared, err := c.Store.BlocksDeclared(ctx, orgID, vaultID)
	if err != nil {
		return err
	}
	if !declared {
		col.VaultsUndeclared++
		return nil
	}
	var old []store.BlockInfo
	err = bc.ListBlocks(ctx, orgID, vaultID, func(b store.BlockInfo) error {
		if b.Stored.After(cutoff) {
			col.Recent++
		} else {
			old = append(old, b)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for len(old) > 0 {
		batch := old[:min(len(old), condemnBatch)]
		old = old[len(batch):]
		ids := make([]string, len(batch))
		sizes := make(map[string]int64, len(batch))
		for i, b := range batch {
			ids[i], sizes[b.ID] = b.ID, b.Size
		}
		fresh, earlier, err := c.Store.CondemnBlocks(ctx, orgID, vaultID, ids, col.DryRun)
		if err != nil {
			return err
		}
		col.Referenced += len(ids) - len(fresh) - len(earlier)
		condemned := append(fresh, earlier...)
		if !col.DryRun && len(condemned) > 0 {
			if err := bc.DeleteBlocks(ctx, orgID, vaultID, condemned); err != nil {
				return err
			}
		}
		for _, id := range condemned {
			col.Deleted++
			col.DeletedBytes += sizes[id]
		}
		// The bytes were reserved when the blocks were put; given back
		// once, by the collection that condemned them (so not for a block
		// condemned by a collection cut short before this point).
		var freed int64
		for _, id := range fresh {
			freed += sizes[id]
		}
		if freed > 0 && !col.DryRun {
			if _, err := c.Store.ReserveStorage(ctx, orgID, -freed); err != nil {
				return err
			}
		}
	}
	return nil
}

// serveCollector runs a collection every interval until ctx ends; the
// first one interval after the start.
func (s *Server) serveCollector(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.collector().Collect(ctx, false); err != nil && ctx.Err() == nil {
				s.log.Warn("block collection failed", "error", err)
			}
		}
	}
}

// collector is the server's block collector.
func (s *Server) collector() *Collector {
	return &Collector{Store: s.cfg.Store, Blocks: s.cfg.Blocks, Grace: s.cfg.GCGrace, Now: s.cfg.Now, Logger: s.log}
}
