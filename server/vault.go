package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coffre/coffre/certificate"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/vaultlog"
	"github.com/coffre/coffre/wire"
)

const maxVaultPage = 1000

// vaultAccess checks the caller's role in a vault at the server's clock:
// a grant that ended, a removed member or a revoked user is refused at
// once (SPEC.md §11.1). Writing needs a write role and a vault that is
// not archived.
func (s *Server) vaultAccess(c *caller, vaultID string, write bool) (*certificate.Vault, error) {
	v, ok := c.org.Vault(vaultID)
	if !ok {
		return nil, wire.ErrNotFound
	}
	role := c.org.RoleOf(v, c.user.ID, s.cfg.Now())
	switch {
	case role == certificate.RoleNone:
		return nil, errForbidden
	case write && (!role.CanWrite() || v.Archived):
		return nil, errForbidden
	}
	return v, nil
}

// VaultAppend appends one entry to a vault's log after the checks every
// client will make (defence in depth): the entry is the caller's, signed
// by its device, with a write role and the vault's newest key, extending
// the stored chain.
func (s *Server) VaultAppend(ctx context.Context, req *coffrev1.VaultAppendRequest) (*coffrev1.VaultAppendResponse, error) {
	c := callerFrom(ctx)
	v, err := s.vaultAccess(c, req.GetVaultId(), true)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	if c.org.NeedsRotation(v, now) {
		return nil, vaultlog.ErrRotationPending
	}
	e, err := vaultlog.ParseEntry(req.GetEntry())
	if err != nil || len(req.GetEntry()) > 32<<20 {
		return nil, errBadRequest
	}
	refs, err := declaredBlocks(req)
	if err != nil {
		return nil, err
	}
	if refs.Folders, err = declaredPages(req, e, refs); err != nil {
		return nil, err
	}
	if e.Author != c.device.ID || e.KeyIndex != v.KeyIndex() || e.Time.Before(now.Add(-wire.MaxSkew)) || e.Time.After(now.Add(wire.MaxSkew)) {
		return nil, wire.ErrCertificateRefused
	}
	if err := vaultlog.Check(c.org, v.ID, e); err != nil {
		s.log.Info("vault entry refused", "organisation", c.orgID, "vault", v.ID, "reason", err.Error())
		return nil, wire.ErrCertificateRefused
	}
	st, err := s.orgState(ctx, c.orgID)
	if err != nil {
		return nil, err
	}
	a := st.vault(v.ID)
	a.mu.Lock()
	defer a.mu.Unlock()
	// The head this process appended or read last, when the entry
	// extends it: the store's append checks, under its lock, that it is
	// still the vault's head (store.ErrConflict otherwise, and the head
	// is read as below), so the usual write of a vault through one
	// process reads no head first.
	if t := a.tail; t != nil && t.head.Position > 0 && vaultlog.Extends(certificate.Head{Position: t.head.Position, Hash: t.head.Hash}, e) == nil {
		resp, err := s.appendAfter(ctx, c, a, v.ID, e, req.GetEntry(), refs, now, t.head)
		if !errors.Is(err, store.ErrConflict) {
			return resp, err
		}
	}
	head, err := s.cfg.Store.VaultLogHead(ctx, c.orgID, v.ID)
	if err != nil {
		return nil, err
	}
	return s.appendAfter(ctx, c, a, v.ID, e, req.GetEntry(), refs, now, head)
}

// appendAfter checks e, whose bytes are data, against the vault's log up
// to head and appends it there. The caller holds a.mu.
func (s *Server) appendAfter(ctx context.Context, c *caller, a *vaultAppender, vaultID string, e *vaultlog.Entry, data []byte, refs store.BlockRefs, now time.Time, head store.Head) (*coffrev1.VaultAppendResponse, error) {
	prev := head.Hash
	if head.Position == 0 {
		prev = vaultlog.VaultGenesis(c.orgID, vaultID)
	}
	if vaultlog.Extends(certificate.Head{Position: head.Position, Hash: prev}, e) != nil {
		return nil, certificate.ErrConflict
	}
	tail, err := s.vaultTail(ctx, a, c.orgID, vaultID, head)
	if err != nil {
		return nil, err
	}
	if err := tail.Check(e); err != nil {
		s.log.Info("vault entry refused", "organisation", c.orgID, "vault", vaultID, "reason", err.Error())
		return nil, wire.ErrCertificateRefused
	}
	entry := store.LogEntry{Position: e.Position, PrevHash: prev, Hash: vaultlog.EntryHash(prev, data), Data: data, ReceivedAt: now}
	newHead, err := s.cfg.Store.AppendVaultLogBlocks(ctx, c.orgID, vaultID, []store.LogEntry{entry}, refs, now)
	if errors.Is(err, store.ErrBlockCollected) {
		s.log.Info("vault entry refused", "organisation", c.orgID, "vault", vaultID, "reason", err.Error())
	}
	if err != nil {
		return nil, err
	}
	tail.fold(e, store.Head{Position: entry.Position, Hash: entry.Hash})
	s.bus.Publish(c.orgID, store.Event{Kind: store.VaultAppended, Vault: vaultID, Position: newHead.Position})
	return &coffrev1.VaultAppendResponse{HeadPosition: newHead.Position}, nil
}

// declaredBlocks returns the blocks a VaultAppend declares its entry
// references (SPEC.md §7.5): well-formed ids, each once, at most
// maxDeclaredBlocks; none without blocks_declared, which is an older
// client's request.
func declaredBlocks(req *coffrev1.VaultAppendRequest) (store.BlockRefs, error) {
	ids := req.GetBlockIds()
	if !req.GetBlocksDeclared() {
		if len(ids) > 0 {
			return store.BlockRefs{}, errBadRequest
		}
		return store.BlockRefs{}, nil
	}
	if len(ids) > maxDeclaredBlocks {
		return store.BlockRefs{}, errBadRequest
	}
	seen := make(map[string]bool, len(ids))
	refs := store.BlockRefs{Declared: true, IDs: make([]string, 0, len(ids))}
	for _, id := range ids {
		if !certificate.ValidID(id) {
			return store.BlockRefs{}, errBadRequest
		}
		if !seen[id] {
			seen[id] = true
			refs.IDs = append(refs.IDs, id)
		}
	}
	return refs, nil
}

// declaredPages returns what the append records of the folders its entry
// writes (store.FolderPages): for each folder in pages the request names,
// its pages, each a block the request declares; every other manifest the
// entry writes, with none (a folder written whole, or a file: the server
// can't tell). A folder named twice, or not written by the entry, or a
// page not declared, is errBadRequest.
func declaredPages(req *coffrev1.VaultAppendRequest, e *vaultlog.Entry, refs store.BlockRefs) ([]store.FolderPages, error) {
	if len(req.GetFolderPages()) == 0 && !refs.Declared {
		return nil, nil
	}
	written := make(map[string]bool, len(e.Writes))
	for _, w := range e.Writes {
		written[w.ManifestID] = true
	}
	declared := make(map[string]bool, len(refs.IDs))
	for _, id := range refs.IDs {
		declared[id] = true
	}
	paged := make(map[string]bool, len(req.GetFolderPages()))
	out := make([]store.FolderPages, 0, len(e.Writes))
	for _, f := range req.GetFolderPages() {
		if !written[f.GetFolderId()] || paged[f.GetFolderId()] || len(f.GetPageIds()) == 0 {
			return nil, errBadRequest
		}
		paged[f.GetFolderId()] = true
		for _, id := range f.GetPageIds() {
			if !declared[id] {
				return nil, errBadRequest
			}
		}
		out = append(out, store.FolderPages{Folder: f.GetFolderId(), Pages: f.GetPageIds()})
	}
	for _, w := range e.Writes {
		if !paged[w.ManifestID] {
			out = append(out, store.FolderPages{Folder: w.ManifestID})
		}
	}
	return out, nil
}

// VaultRead returns entries of a vault's log to a member and, with
// with_pages, in the answer that reaches the head, the pages of the
// vault's folders as their newest writers declared them (SPEC.md
// §11.3.1): a device that reads the log from the start lists a folder
// without asking for its pages. They are blocks any member may get.
func (s *Server) VaultRead(ctx context.Context, req *coffrev1.VaultReadRequest) (*coffrev1.VaultReadResponse, error) {
	c := callerFrom(ctx)
	v, err := s.vaultAccess(c, req.GetVaultId(), false)
	if err != nil {
		return nil, err
	}
	limit := int(req.GetLimit())
	if limit <= 0 || limit > maxVaultPage {
		limit = maxVaultPage
	}
	// The head first, then the entries up to it (see GetLog).
	head, entries, orgHead, err := s.readVault(ctx, c.orgID, v.ID, max(req.GetFrom(), 1), limit, req.GetWithHead())
	if err != nil {
		return nil, err
	}
	resp := &coffrev1.VaultReadResponse{HeadPosition: head.Position, Entries: page(head, entries)}
	if req.GetWithHead() {
		if resp.Head, err = s.signHead(c.orgID, v.ID, orgHead, head); err != nil {
			return nil, err
		}
	}
	if n := len(resp.Entries); req.GetWithPages() && (n == 0 || resp.Entries[n-1].Position == head.Position) {
		if resp.Pages, err = s.vaultPages(ctx, c.orgID, v.ID); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// vaultPages reads the pages recorded for a vault's folders, as many as
// fit in wire.MaxBatchBytes. A page the block store no longer has is left
// out: the client fetches what it lacks with GetBlocks.
func (s *Server) vaultPages(ctx context.Context, orgID, vaultID string) ([]*coffrev1.BlockData, error) {
	folders, err := s.cfg.Store.VaultPages(ctx, orgID, vaultID)
	if err != nil {
		return nil, err
	}
	var ids []string
	seen := map[string]bool{}
	for _, f := range folders {
		for _, id := range f.Pages {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return s.readBlocks(ctx, orgID, vaultID, ids, true)
}

// PutBlock stores one encrypted block for a member with a write role.
func (s *Server) PutBlock(ctx context.Context, req *coffrev1.PutBlockRequest) (*coffrev1.PutBlockResponse, error) {
	c := callerFrom(ctx)
	v, err := s.vaultAccess(c, req.GetVaultId(), true)
	if err != nil {
		return nil, err
	}
	if !certificate.ValidID(req.GetBlockId()) {
		return nil, errBadRequest
	}
	if len(req.GetData()) > store.MaxBlockSize {
		return nil, wire.ErrBlockTooLarge
	}
	size := int64(len(req.GetData()))
	// A small block as a batch of one: in the block store's own
	// transaction with its reservation, shared with concurrent puts.
	if done, err := s.putReserved(ctx, c.orgID, v.ID, []store.BlockData{{ID: req.GetBlockId(), Data: req.GetData()}}, size); done {
		if err != nil {
			return nil, err
		}
		return &coffrev1.PutBlockResponse{}, nil
	}
	if rp, ok := s.cfg.Blocks.(store.ReservingPutter); ok {
		err := rp.PutBlockReserved(ctx, c.orgID, v.ID, req.GetBlockId(), req.GetData(), size)
		switch {
		case errors.Is(err, store.ErrQuotaExceeded):
			return nil, wire.ErrStorageQuota
		case err != nil:
			return nil, blockError(err)
		}
		return &coffrev1.PutBlockResponse{}, nil
	}
	if gp, ok := s.cfg.Blocks.(store.GatedPutter); ok {
		if err := s.putGated(ctx, gp, c.orgID, v.ID, req.GetBlockId(), req.GetData()); err != nil {
			return nil, err
		}
		return &coffrev1.PutBlockResponse{}, nil
	}
	if _, err := s.cfg.Store.ReserveStorage(ctx, c.orgID, size); errors.Is(err, store.ErrQuotaExceeded) {
		return nil, wire.ErrStorageQuota
	} else if err != nil {
		return nil, err
	}
	err = s.cfg.Blocks.PutBlock(ctx, c.orgID, v.ID, req.GetBlockId(), req.GetData())
	if err != nil {
		s.cfg.Store.ReserveStorage(context.WithoutCancel(ctx), c.orgID, -size)
		return nil, blockError(err)
	}
	return &coffrev1.PutBlockResponse{}, nil
}

// putGated stores a block while its storage is reserved, the block named
// only once the reservation succeeded (store.GatedPutter, SPEC.md §7.4):
// a block over the quota is never stored, as when the reservation came
// first. A reservation made for a block that then failed is given back.
func (s *Server) putGated(ctx context.Context, gp store.GatedPutter, orgID, vaultID, blockID string, data []byte) error {
	size := int64(len(data))
	reserved := false
	err := gp.PutBlockGated(ctx, orgID, vaultID, blockID, data, func() error {
		_, err := s.cfg.Store.ReserveStorage(ctx, orgID, size)
		reserved = err == nil
		return err
	})
	switch {
	case err == nil:
		return nil
	case reserved:
		s.cfg.Store.ReserveStorage(context.WithoutCancel(ctx), orgID, -size)
	case errors.Is(err, store.ErrQuotaExceeded):
		return wire.ErrStorageQuota
	}
	return blockError(err)
}

// putReserved stores blocks and reserves their size in one write of the
// block store, if it can (store.ReservingBatcher: the small blocks of the
// embedded store, SPEC.md §7.4); nothing of either on an error. done says
// it did, or tried: false, the caller reserves and stores.
func (s *Server) putReserved(ctx context.Context, orgID, vaultID string, blocks []store.BlockData, size int64) (done bool, err error) {
	rb, ok := s.cfg.Blocks.(store.ReservingBatcher)
	if !ok {
		return false, nil
	}
	done, err = rb.PutBlocksReserved(ctx, orgID, vaultID, blocks, size)
	switch {
	case !done:
		return false, nil
	case errors.Is(err, store.ErrQuotaExceeded):
		return true, wire.ErrStorageQuota
	case err != nil:
		return true, blockError(err)
	}
	return true, nil
}

// blockError maps a BlockStore's error on a put to the wire's.
func blockError(err error) error {
	switch {
	case errors.Is(err, store.ErrBlockTooLarge):
		return wire.ErrBlockTooLarge
	case errors.Is(err, store.ErrExists):
		return errBadRequest
	}
	return err
}

// PutBlocks stores several blocks of one vault for a member with a write
// role, with one group commit (SPEC.md §6.2): the checks of PutBlock for
// each block, all made before anything is stored (the request signature,
// which covers every block's digest, and the match of every block's bytes
// with its digest are checked by authentication, as for PutBlock); one
// storage reservation for the whole batch.
func (s *Server) PutBlocks(ctx context.Context, req *coffrev1.PutBlocksRequest) (*coffrev1.PutBlocksResponse, error) {
	c := callerFrom(ctx)
	v, err := s.vaultAccess(c, req.GetVaultId(), true)
	if err != nil {
		return nil, err
	}
	if len(req.GetBlocks()) == 0 || len(req.GetBlocks()) > wire.MaxBatchBlocks {
		return nil, errBadRequest
	}
	blocks := make([]store.BlockData, 0, len(req.GetBlocks()))
	var size int64
	for _, b := range req.GetBlocks() {
		if !certificate.ValidID(b.GetBlockId()) {
			return nil, errBadRequest
		}
		if len(b.GetData()) > store.MaxBlockSize {
			return nil, wire.ErrBlockTooLarge
		}
		size += int64(len(b.GetData()))
		blocks = append(blocks, store.BlockData{ID: b.GetBlockId(), Data: b.GetData()})
	}
	if size > wire.MaxBatchBytes {
		return nil, wire.ErrBlockTooLarge
	}
	if done, err := s.putReserved(ctx, c.orgID, v.ID, blocks, size); done {
		if err != nil {
			return nil, err
		}
		return &coffrev1.PutBlocksResponse{}, nil
	}
	if _, err := s.cfg.Store.ReserveStorage(ctx, c.orgID, size); errors.Is(err, store.ErrQuotaExceeded) {
		return nil, wire.ErrStorageQuota
	} else if err != nil {
		return nil, err
	}
	if batcher, ok := s.cfg.Blocks.(store.BlockBatcher); ok {
		err = batcher.PutBlocks(ctx, c.orgID, v.ID, blocks)
	} else {
		for _, b := range blocks {
			if err = s.cfg.Blocks.PutBlock(ctx, c.orgID, v.ID, b.ID, b.Data); err != nil {
				break
			}
		}
	}
	if err != nil {
		// Blocks stored before the failure stay (whole, unreferenced until
		// an entry names them, as after an interrupted PutBlock); their
		// share of the reservation is released with the rest, and counted
		// again when the client retries the batch.
		s.cfg.Store.ReserveStorage(context.WithoutCancel(ctx), c.orgID, -size)
		return nil, blockError(err)
	}
	return &coffrev1.PutBlocksResponse{}, nil
}

// GetBlock returns one encrypted block to a member.
func (s *Server) GetBlock(ctx context.Context, req *coffrev1.GetBlockRequest) (*coffrev1.GetBlockResponse, error) {
	c := callerFrom(ctx)
	v, err := s.vaultAccess(c, req.GetVaultId(), false)
	if err != nil {
		return nil, err
	}
	if !certificate.ValidID(req.GetBlockId()) {
		return nil, errBadRequest
	}
	return s.readBlock(ctx, c.orgID, v.ID, req.GetBlockId())
}

// getBlocksParallel is how many blocks of one GetBlocks are read from the
// BlockStore at once.
const getBlocksParallel = 8

// GetBlocks returns several encrypted blocks of one vault to a member
// (SPEC.md §6.2): the checks of GetBlock for every id, made before
// anything is read; 1 to wire.MaxBatchBlocks distinct ids. The blocks come
// back in the order asked, as many as fit in wire.MaxBatchBytes of data
// (at least one, so that the answer stays under the client's message
// limit); the client asks again for the rest. A block the store doesn't
// have fails the call.
func (s *Server) GetBlocks(ctx context.Context, req *coffrev1.GetBlocksRequest) (*coffrev1.GetBlocksResponse, error) {
	c := callerFrom(ctx)
	v, err := s.vaultAccess(c, req.GetVaultId(), false)
	if err != nil {
		return nil, err
	}
	ids := req.GetBlockIds()
	if len(ids) == 0 || len(ids) > wire.MaxBatchBlocks {
		return nil, errBadRequest
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !certificate.ValidID(id) || seen[id] {
			return nil, errBadRequest
		}
		seen[id] = true
	}
	blocks, err := s.readBlocks(ctx, c.orgID, v.ID, ids, false)
	if err != nil {
		return nil, err
	}
	return &coffrev1.GetBlocksResponse{Blocks: blocks}, nil
}

// readBlocks reads blocks of a vault in the order of ids, getBlocksParallel
// at once, as many as fit in wire.MaxBatchBytes of data (at least one).
// A block the store doesn't have fails the read, or with skipMissing is
// left out.
func (s *Server) readBlocks(ctx context.Context, orgID, vaultID string, ids []string, skipMissing bool) ([]*coffrev1.BlockData, error) {
	var out []*coffrev1.BlockData
	size := 0
	for start := 0; start < len(ids); start += getBlocksParallel {
		window := ids[start:min(start+getBlocksParallel, len(ids))]
		data := make([][]byte, len(window))
		errs := make([]error, len(window))
		var wg sync.WaitGroup
		for i, id := range window {
			wg.Add(1)
			go func() {
				defer wg.Done()
				data[i], errs[i] = s.cfg.Blocks.GetBlock(ctx, orgID, vaultID, id)
			}()
		}
		wg.Wait()
		for i, id := range window {
			if skipMissing && errors.Is(errs[i], store.ErrNotFound) {
				continue
			}
			if errs[i] != nil {
				return nil, errs[i]
			}
			if len(out) > 0 && size+len(data[i]) > wire.MaxBatchBytes {
				return out, nil
			}
			size += len(data[i])
			out = append(out, &coffrev1.BlockData{BlockId: id, Data: data[i]})
		}
	}
	return out, nil
}

// vaultTail is what the clear rules of a new vault entry need from the
// stored log (SPEC.md §11.5, vaultlog.Tail), folded up to head: readers
// would refuse an entry that breaks them.
type vaultTail struct {
	vaultlog.Tail
	head store.Head
}

func (t *vaultTail) fold(e *vaultlog.Entry, head store.Head) {
	t.Tail.Fold(e)
	t.head = head
}

// vaultTail returns the vault's tail as of the stored head, folding only
// the entries appended since it was last folded (by this process or
// another sharing the store), or all of them again when the stored log no
// longer extends what was folded. The caller holds a.mu.
func (s *Server) vaultTail(ctx context.Context, a *vaultAppender, orgID, vaultID string, head store.Head) (*vaultTail, error) {
	t := a.tail
	a.tail = nil // kept again only once folded up to head
	if t == nil || t.head.Position > head.Position {
		t = newVaultTail()
	}
	err := s.foldVault(ctx, orgID, vaultID, t, head)
	if errors.Is(err, errStaleTail) {
		t = newVaultTail()
		err = s.foldVault(ctx, orgID, vaultID, t, head)
	}
	if err != nil {
		return nil, err
	}
	a.tail = t
	return t, nil
}

func newVaultTail() *vaultTail { return &vaultTail{} }

// errStaleTail: the stored log was rewritten below what was folded.
var errStaleTail = errors.New("the stored vault log does not extend the folded one")

// foldVault folds the stored entries after t's head up to head.
func (s *Server) foldVault(ctx context.Context, orgID, vaultID string, t *vaultTail, head store.Head) error {
	for t.head.Position < head.Position {
		entries, err := s.cfg.Store.ReadVaultLog(ctx, orgID, vaultID, t.head.Position+1, maxVaultPage)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			return fmt.Errorf("vault %s: the stored log ends before its head %d", vaultID, head.Position)
		}
		for _, le := range entries {
			if le.Position > head.Position {
				break
			}
			if t.head.Position > 0 && !bytes.Equal(le.PrevHash, t.head.Hash) {
				return errStaleTail
			}
			e, err := vaultlog.ParseEntry(le.Data)
			if err != nil {
				return fmt.Errorf("vault %s entry %d: %w", vaultID, le.Position, err)
			}
			t.fold(e, store.Head{Position: le.Position, Hash: le.Hash})
		}
	}
	if !bytes.Equal(t.head.Hash, head.Hash) {
		return errStaleTail
	}
	return nil
}
