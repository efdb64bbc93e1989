package client

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"

	"github.com/coffre/coffre/certificate"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/wire"
	"github.com/coffre/coffre/workspace"
)

// remote is the server, the block cache and the upload journal as an
// opened vault sees them (workspace.Remote, Blocks, BlockCache and
// UploadJournal); its ConfirmFresh is in head.go. Everything it returns
// is checked by the vault before use.
type remote struct {
	s *Session

	// The signed head that allowed a write (ConfirmFresh) is kept in
	// state.db with the write's own entry when the append succeeds, one
	// synced transaction instead of two, and alone at once when it fails
	// (SPEC.md §4.4 "Kept statements").
	mu        sync.Mutex
	read      *signedHead               // came with the newest Read before a write, for ConfirmFresh
	confirmed *coffrev1.GetHeadResponse // allowed the next Append
	unkept    *coffrev1.GetHeadResponse // allowed an accepted Append: kept by the next persist
}

func newRemote(s *Session) *remote { return &remote{s: s} }

// Append appends an entry and declares the blocks it references (SPEC.md
// §7.5).
func (r *remote) Append(ctx context.Context, vaultID string, entry []byte, blocks []string, pages []workspace.FolderPages) error {
	r.mu.Lock()
	head := r.confirmed
	r.confirmed = nil
	r.mu.Unlock()
	req := &coffrev1.VaultAppendRequest{VaultId: vaultID, Entry: entry, BlockIds: blocks, BlocksDeclared: true}
	for _, f := range pages {
		req.FolderPages = append(req.FolderPages, &coffrev1.FolderPages{FolderId: f.Folder, PageIds: f.Pages})
	}
	_, err := r.s.conn.api.VaultAppend(ctx, req)
	if err != nil {
		if head != nil {
			if err := r.s.state.keepServerHead(vaultID, head); err != nil {
				return err
			}
		}
		err = fromServer(r.s.conn.address, err)
		if errors.Is(err, wire.ErrBlockCollected) {
			return fmt.Errorf("%w (%w)", workspace.ErrBlockCollected, err)
		}
		return err
	}
	r.mu.Lock()
	r.unkept = head
	r.mu.Unlock()
	return nil
}

// persist stores what the vault verified (workspace.Persist), with the
// signed head of the write just accepted, if any, in the same transaction.
func (r *remote) persist(vaultID string, entries []workspace.RemoteEntry, head certificate.Head) error {
	r.mu.Lock()
	signed := r.unkept
	r.mu.Unlock()
	if err := r.s.state.saveVault(vaultID, entries, head, signed); err != nil {
		return err
	}
	r.mu.Lock()
	if r.unkept == signed {
		r.unkept = nil
	}
	r.mu.Unlock()
	return nil
}

// vaultReadRequest is the read of a vault log from position from, with
// its folder pages and the server's signed heads if asked: the one
// request both Read and a read sent ahead (readahead.go) make, so that
// an answer sent ahead answers exactly what Read would have asked.
func vaultReadRequest(vaultID string, from uint64, pages, signed bool) *coffrev1.VaultReadRequest {
	return &coffrev1.VaultReadRequest{VaultId: vaultID, From: from, WithPages: pages, WithHead: signed}
}

// Read reads the vault log from position from, with the folder pages
// when asked (SPEC.md §11.3.1), which it keeps, unchecked, for GetBlock
// and GetBlocks, and with the server's signed heads when asked, which it
// checks as GetHead's answer and keeps for ConfirmFresh (SPEC.md §4.4).
func (r *remote) Read(ctx context.Context, vaultID string, from uint64, pages, signed bool) ([]workspace.RemoteEntry, uint64, error) {
	var (
		resp *coffrev1.VaultReadResponse
		p    peer.Peer
	)
	ahead := r.s.takeReadAhead(vaultID, from, pages, signed)
	err := retry(ctx, func() (err error) {
		if ahead != nil {
			resp, p, err = ahead.answer(ctx)
			ahead = nil // once: a retry sends its own
		} else {
			resp, err = r.s.conn.api.VaultRead(ctx, vaultReadRequest(vaultID, from, pages, signed), grpc.Peer(&p))
		}
		return fromServer(r.s.conn.address, err)
	})
	if err != nil {
		return nil, 0, err
	}
	if signed {
		// A server that does not sign with the log leaves it to GetHead.
		var h *signedHead
		if resp.GetHead() != nil {
			checked, err := r.s.checkHead(&p, resp.GetHead(), vaultID)
			if err != nil {
				return nil, 0, err
			}
			h = &checked
		}
		r.mu.Lock()
		r.read = h
		r.mu.Unlock()
	}
	r.s.offered.offer(vaultID, resp.GetPages())
	out := make([]workspace.RemoteEntry, 0, len(resp.GetEntries()))
	for _, e := range resp.GetEntries() {
		out = append(out, workspace.RemoteEntry{Position: e.GetPosition(), Data: e.GetData()})
	}
	return out, resp.GetHeadPosition(), nil
}

func (r *remote) PutBlock(ctx context.Context, vaultID, blockID string, data []byte) error {
	err := retry(ctx, func() error {
		_, err := r.s.conn.api.PutBlock(ctx, &coffrev1.PutBlockRequest{VaultId: vaultID, BlockId: blockID, Data: data})
		return fromServer(r.s.conn.address, err)
	})
	return err // not cached: this device has the file it uploads
}

// PutBlocks stores the blocks of small files with one call and one group
// commit on the server (workspace.BlockBatcher).
func (r *remote) PutBlocks(ctx context.Context, vaultID string, blocks []workspace.BlockData) error {
	req := &coffrev1.PutBlocksRequest{VaultId: vaultID, Blocks: make([]*coffrev1.BlockData, len(blocks))}
	for i, b := range blocks {
		req.Blocks[i] = &coffrev1.BlockData{BlockId: b.ID, Data: b.Data}
	}
	return retry(ctx, func() error {
		_, err := r.s.conn.api.PutBlocks(ctx, req)
		return fromServer(r.s.conn.address, err)
	})
}

func (r *remote) GetBlock(ctx context.Context, vaultID, blockID string) ([]byte, error) {
	if data, ok := r.s.cache.get(vaultID, blockID); ok {
		return data, nil
	}
	if data, ok := r.s.offered.take(vaultID, blockID); ok {
		return data, nil
	}
	var resp *coffrev1.GetBlockResponse
	err := retry(ctx, func() (err error) {
		resp, err = r.s.conn.api.GetBlock(ctx, &coffrev1.GetBlockRequest{VaultId: vaultID, BlockId: blockID})
		return fromServer(r.s.conn.address, err)
	})
	if err != nil {
		return nil, err
	}
	return resp.GetData(), nil
}

// ReuseBlock takes back a block GetBlock returned, once the caller is
// done with it (workspace.BlockReuser): a later block is received in its
// memory. Every GetBlock's result is the caller's alone, wherever it came
// from (a message received, the block cache's read, a page offered).
func (r *remote) ReuseBlock(data []byte) { wire.ReuseBlock(data) }

// GetBlocks returns the blocks named by ids, in that order
// (workspace.BlockFetcher): those in the block cache or offered with the
// vault log from there, the others with GetBlocks calls of at most
// wire.MaxBatchBlocks ids. The server
// answers the first blocks of each call in order (SPEC.md §6.2) and is
// asked again for the rest; an answer that names another block, or none,
// is refused: a block is never left out. What it returns is checked by
// the caller, as GetBlock's.
func (r *remote) GetBlocks(ctx context.Context, vaultID string, ids []string) ([][]byte, error) {
	out := make([][]byte, len(ids))
	var ask []int // indexes in ids of the blocks to ask for
	for i, id := range ids {
		if data, ok := r.s.cache.get(vaultID, id); ok {
			out[i] = data
		} else if data, ok := r.s.offered.take(vaultID, id); ok {
			out[i] = data
		} else {
			ask = append(ask, i)
		}
	}
	for len(ask) > 0 {
		req := &coffrev1.GetBlocksRequest{VaultId: vaultID}
		for _, i := range ask[:min(len(ask), wire.MaxBatchBlocks)] {
			req.BlockIds = append(req.BlockIds, ids[i])
		}
		var resp *coffrev1.GetBlocksResponse
		err := retry(ctx, func() (err error) {
			resp, err = r.s.conn.api.GetBlocks(ctx, req)
			return fromServer(r.s.conn.address, err)
		})
		if err != nil {
			return nil, err
		}
		got := resp.GetBlocks()
		if len(got) == 0 || len(got) > len(req.BlockIds) {
			return nil, fmt.Errorf("%w: %d blocks for %d asked (server %s)", ErrBadBlocks, len(got), len(req.BlockIds), r.s.conn.address)
		}
		for j, b := range got {
			if b.GetBlockId() != req.BlockIds[j] {
				return nil, fmt.Errorf("%w: block %q where %s was asked (server %s)", ErrBadBlocks, b.GetBlockId(), req.BlockIds[j], r.s.conn.address)
			}
			out[ask[j]] = b.GetData()
		}
		ask = ask[len(got):]
	}
	return out, nil
}

// BlockVerified keeps a block that passed its manifest's checks: nothing
// the server sends reaches the cache unchecked.
func (r *remote) BlockVerified(vaultID, blockID string, ciphertext []byte) {
	r.s.cache.put(vaultID, blockID, ciphertext)
}

// KeepsFile: the blocks of a file larger than a quarter of the cache are
// not kept (a large sequential read would push out everything else).
func (r *remote) KeepsFile(size uint64) bool { return r.s.cache.keepsFile(size) }

// BlockRejected drops a block that failed its checks.
func (r *remote) BlockRejected(vaultID, blockID string) { r.s.cache.remove(vaultID, blockID) }

// Uploaded, BlocksSent and UploadDone keep the blocks of uploads in
// progress in the encrypted local state, so that an interrupted upload
// resumes (workspace.UploadJournal).
func (r *remote) Uploaded(vaultID, path string) []workspace.Block {
	return r.s.state.uploaded(vaultID, path)
}

func (r *remote) BlocksSent(vaultID, path string, bs []workspace.Block) {
	r.s.state.blocksSent(vaultID, path, bs) // a failure only means sending them again
}

func (r *remote) UploadDone(vaultID, path string) { r.s.state.uploadDone(vaultID, path) }

// offeredPages are the folder pages a VaultRead answer brought (SPEC.md
// §11.3.1), unchecked, until a listing or lookup asks for them: each is
// taken once and checked against its folder's signed manifest as a
// GetBlocks answer is, then kept in the block cache if it passes.
type offeredPages struct {
	mu    sync.Mutex
	pages map[string]map[string][]byte // vault id → block id → ciphertext
}

func (o *offeredPages) offer(vaultID string, blocks []*coffrev1.BlockData) {
	if len(blocks) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pages == nil {
		o.pages = map[string]map[string][]byte{}
	}
	m := o.pages[vaultID]
	if m == nil {
		m = make(map[string][]byte, len(blocks))
		o.pages[vaultID] = m
	}
	for _, b := range blocks {
		m[b.GetBlockId()] = b.GetData()
	}
}

func (o *offeredPages) take(vaultID, blockID string) ([]byte, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	data, ok := o.pages[vaultID][blockID]
	delete(o.pages[vaultID], blockID)
	return data, ok
}
