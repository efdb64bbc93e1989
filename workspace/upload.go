package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
)

// blockKey identifies a block's content, to reuse it in the next version
// of the same file (never across files: SECURITY.md A20).
type blockKey struct {
	digest crypto.Digest
	size   uint64
}

// chunkingSecret is the chunking secret of vault key index, which a
// version written under that key was cut with (SPEC.md §11.3), derived
// once per key; the caller must not modify it.
func (w *Vault) chunkingSecret(index uint32) ([]byte, error) {
	if s, ok := w.secrets.Load(index); ok {
		return s.([]byte), nil
	}
	k, ok := w.keys.Get(index)
	if !ok {
		return nil, fmt.Errorf("%w: key %d", ErrNoKey, index)
	}
	s := ChunkingSecret(k)
	w.secrets.Store(index, s)
	return s, nil
}

// ContentID identifies a file's content by its chunks: two files with
// the same ContentID in one vault have the same bytes.
func ContentID(blocks []Block) crypto.Digest {
	parts := make([][]byte, 0, 2*len(blocks))
	for _, b := range blocks {
		parts = append(parts, b.Digest[:], u64(b.Size))
	}
	return crypto.LabeledSum("content-id", parts...)
}

// LocalContentID computes, without uploading anything, the ContentID a
// local file has when cut as a version written under vault key index is
// (Version.KeyIndex): content ids compare only under one key, since each
// key has its own chunking secret.
func (w *Vault) LocalContentID(r io.Reader, index uint32) (crypto.Digest, uint64, error) {
	secret, err := w.chunkingSecret(index)
	if err != nil {
		return crypto.Digest{}, 0, err
	}
	c := NewChunker(secret, r)
	var blocks []Block
	var size uint64
	for {
		chunk, whole, err := c.nextWhole()
		if err == io.EOF {
			return ContentID(blocks), size, nil
		}
		if err != nil {
			return crypto.Digest{}, 0, err
		}
		blocks = append(blocks, Block{Digest: crypto.Sum(chunk), Size: uint64(len(chunk))})
		size += uint64(len(chunk))
		ReleaseChunk(whole)
	}
}

// Progress is told how many bytes were transferred so far.
type Progress func(done int64)

// Put stores the content of r as the file at p, creating it or adding a
// new version. The content is streamed block by block, a few blocks in
// flight at a time: memory stays flat whatever the size. If someone else
// wrote the same file meanwhile, ErrWriteConflict and nothing is changed.
func (w *Vault) Put(ctx context.Context, p string, r io.Reader, progress Progress) (Version, error) {
	vs, err := w.PutFiles(ctx, []PutItem{{Path: p, Open: func() (io.ReadCloser, error) { return io.NopCloser(r), nil }, Progress: progress}})
	if err != nil {
		return Version{}, err
	}
	return vs[0], nil
}

// PutItem is one file of a PutFiles batch.
type PutItem struct {
	Path     string
	Open     func() (io.ReadCloser, error)
	Progress Progress
}

// PutFiles uploads several files and commits them in one vault entry, so
// that a folder receiving many files is written once per batch, not once
// per file. Either every file of the batch becomes visible or none does.
func (w *Vault) PutFiles(ctx context.Context, items []PutItem) ([]Version, error) {
	if err := w.writable(); err != nil {
		return nil, err
	}
	if err := w.syncToWrite(ctx); err != nil {
		return nil, err
	}
	up, err := w.UploadFiles(ctx, items)
	if err != nil {
		return nil, err
	}
	return w.CommitFiles(ctx, up)
}

// Uploaded is a batch of files whose blocks are stored and which no vault
// entry names yet (UploadFiles); CommitFiles makes them visible. Left
// uncommitted, its blocks are orphans the server collects.
type Uploaded struct {
	items []PutItem
	files []*staged
}

// staged is one file of an Uploaded batch.
type staged struct {
	names    []string
	replaces *Version // the version replaced: a later one means a concurrent writer
	blocks   []Block
	size     uint64
	id       string
	// journaled: the upload journal holds blocks of this path
	journaled atomic.Bool
}

// UploadFiles stores the blocks of items, to be committed in one entry by
// CommitFiles. Each file replaces the version the verified state has at
// its path, as it is now (no Sync: a caller that decided what to upload
// from that state gets ErrWriteConflict at the commit if the vault moved
// since, rather than a newer version replaced unseen).
//
// It may run on one goroutine while another commits an earlier batch
// (CommitFiles) or syncs the same Vault: it reads the keys, the verified
// state as it is when it starts, and stores blocks, which is how a sync
// sends one batch while the one before commits.
func (w *Vault) UploadFiles(ctx context.Context, items []PutItem) (*Uploaded, error) {
	if err := w.writable(); err != nil {
		return nil, err
	}
	v := w.view(ctx, w.verified(), time.Time{})
	files := make([]*staged, len(items))
	for i, it := range items {
		names, err := SplitPath(it.Path)
		if err != nil {
			return nil, err
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("/: %w", ErrIsFolder)
		}
		f := &staged{names: names}
		if cur, err := v.resolve(names); err == nil {
			if cur.Manifest.Folder {
				return nil, fmt.Errorf("%s: %w", it.Path, ErrIsFolder)
			}
			f.replaces = &cur
		}
		files[i] = f
	}
	// Several files in flight (a folder of small files would otherwise
	// have one block in flight), and at most blocksInFlight blocks across
	// them, so that memory stays bounded whatever the files' sizes.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	slots := make(chan struct{}, blocksInFlight(w.parallel))
	batch := w.newBlockBatch()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		next     = make(chan int)
	)
	for range min(filesInFlight, len(items)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := w.uploadItem(ctx, items[i], files[i].replaces, slots, batch, &files[i].blocks, &files[i].size, &files[i].journaled); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range items {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The blocks still queued are stored before any manifest names them.
	if err := batch.flush(ctx); err != nil {
		return nil, fmt.Errorf("uploading the blocks of small files: %w", err)
	}
	return &Uploaded{items: items, files: files}, nil
}

// CommitFiles commits an uploaded batch in one vault entry, on the
// goroutine that syncs and commits this Vault. The first attempt computes
// against the verified state as it is: the commit's freshness check says
// if the log moved since (SPEC.md §11.5), and then it syncs and computes
// again.
func (w *Vault) CommitFiles(ctx context.Context, up *Uploaded) ([]Version, error) {
	items, files := up.items, up.files
	err := w.commitSynced(ctx, func(l *Log) ([]*Manifest, error) {
		var out []*Manifest
		folders := map[string]*Manifest{} // copies, written once if changed
		changed := map[string]bool{}
		var order []string
		byPath := map[string]*Manifest{}             // each folder read once: a big one is costly to copy
		byName := map[string]map[string]ChildEntry{} // each folder's children by name, as it changes
		v := w.view(ctx, l, time.Time{})
		for i, f := range files {
			dir := strings.Join(f.names[:len(f.names)-1], "/")
			parent, ok := byPath[dir]
			if !ok {
				var err error
				if parent, err = v.folderFor(f.names[:len(f.names)-1]); err != nil {
					return nil, err
				}
				if seen, ok := folders[parent.ID]; ok {
					parent = seen
				} else {
					folders[parent.ID] = parent
					order = append(order, parent.ID)
				}
				byPath[dir] = parent
			}
			if byName[parent.ID] == nil {
				byName[parent.ID] = make(map[string]ChildEntry, len(parent.Children))
				for _, c := range parent.Children {
					byName[parent.ID][c.Name] = c
				}
			}
			p := items[i].Path
			name := f.names[len(f.names)-1]
			child, exists := byName[parent.ID][name]
			switch {
			case exists && child.Folder:
				return nil, fmt.Errorf("%s: %w", p, ErrIsFolder)
			case exists != (f.replaces != nil):
				return nil, fmt.Errorf("%s: %w", p, ErrWriteConflict)
			case exists:
				if latest, _ := l.Latest(child.ID); latest.Version != f.replaces.Version || child.ID != f.replaces.Manifest.ID {
					return nil, fmt.Errorf("%s: %w", p, ErrWriteConflict)
				}
				f.id = child.ID
			default:
				f.id = certificate.NewID()
				parent.Children = append(parent.Children, ChildEntry{Name: name, ID: f.id})
				byName[parent.ID][name] = parent.Children[len(parent.Children)-1]
				changed[parent.ID] = true // sorted once, below
			}
			out = append(out, &Manifest{ID: f.id, Parent: parent.ID, Size: f.size, Blocks: f.blocks})
		}
		for _, id := range order {
			if changed[id] {
				sortChildren(folders[id].Children)
				out = append(out, folders[id])
			}
		}
		return out, nil
	}, true)
	if errors.Is(err, ErrBlockCollected) && w.journal != nil {
		// The journal's blocks may be the ones collected: the next try
		// sends every block again, under new ids.
		for i, f := range files {
			if f.journaled.Load() {
				w.journal.UploadDone(w.vault.ID, items[i].Path)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	vs := make([]Version, len(files))
	for i, f := range files {
		vs[i], _ = w.log.Latest(f.id)
		if w.journal != nil && f.journaled.Load() {
			w.journal.UploadDone(w.vault.ID, items[i].Path)
		}
	}
	return vs, nil
}

// filesInFlight is how many files of a PutFiles batch upload at once.
const filesInFlight = 8

// blocksInFlight bounds the blocks being sealed or sent across a batch:
// each is up to MaxChunk of plaintext and as much of ciphertext. A file
// has as many workers as there are slots (before issue 15, parallel: 4
// of the 8 blocks in flight): sealing takes a core about a millisecond
// per MiB, the server's write and fsync of the block several times that.
func blocksInFlight(parallel int) int { return max(2*parallel, filesInFlight) }

// uploadItem uploads one file of a batch: its blocks, its size, and
// whether the upload journal holds blocks of its path (a file of one block
// is not journaled: resuming it would send that block again anyway).
func (w *Vault) uploadItem(ctx context.Context, it PutItem, replaces *Version, slots chan struct{}, batch *blockBatch, blocks *[]Block, size *uint64, journaled *atomic.Bool) error {
	r, err := it.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	reuse := map[blockKey]Block{}
	if replaces != nil {
		for _, b := range replaces.Manifest.Blocks {
			reuse[blockKey{b.Digest, b.Size}] = b
		}
	}
	var journal *uploadJournal
	if w.journal != nil {
		journal = &uploadJournal{
			// Blocks an interrupted upload of this path already sent.
			resumable: func() []Block {
				bs := w.journal.Uploaded(w.vault.ID, it.Path)
				if len(bs) > 0 {
					journaled.Store(true)
				}
				return bs
			},
			sent: func(bs []Block) {
				w.journal.BlocksSent(w.vault.ID, it.Path, bs)
				journaled.Store(true)
			},
		}
	}
	*blocks, *size, err = w.upload(ctx, r, reuse, slots, batch, journal, it.Progress)
	if err != nil {
		return fmt.Errorf("%s: %w", it.Path, err)
	}
	return nil
}

// uploadJournal is one path's side of the upload journal: the blocks an
// interrupted upload of it sent, and recording blocks sent.
type uploadJournal struct {
	resumable func() []Block
	sent      func([]Block)
}

// An upload records the blocks it sent in its journal once it has sent
// journalBlocks more, or journalEvery after the last record, and the rest
// when it ends, failed or not: one local transaction (an fsync) per block
// was a tenth of a put's client syscalls (issue 15). A crash loses the
// record of at most that many blocks, which the upload that resumes sends
// again (the server collects the copies no manifest names).
const (
	journalBlocks = 32
	journalEvery  = time.Second
)

// upload cuts r into blocks, encrypts each with its own random key and
// uploads them with up to cap(slots) in flight, each holding one of slots
// while it is sealed and sent. Memory: about cap(slots)+1 blocks. The journal (nil:
// none) is used only for a file of more than one block: resuming a file
// of one block would send it again anyway, and small files go without a
// local transaction each (reading the journal, recording the block).
//
// The block of a file of one small block is queued in batch (nil: none)
// rather than sent alone; it counts as sent for progress, and the caller
// flushes the batch before it commits a manifest naming the block.
func (w *Vault) upload(ctx context.Context, r io.Reader, reuse map[blockKey]Block, slots chan struct{}, batch *blockBatch, journal *uploadJournal, progress Progress) ([]Block, uint64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type job struct {
		i      int
		plain  []byte
		whole  []byte // plain's buffer (Chunker.nextWhole)
		off    uint64
		digest *crypto.Digest // nil: not computed yet
	}
	jobs := make(chan job)
	var (
		mu      sync.Mutex
		blocks  []Block
		done    int64
		firstEr error
		wg      sync.WaitGroup
		multi   bool // the file has a second block: journal its blocks, send them alone
		// sent blocks not yet in the journal, and when it was last written
		unjournaled []Block
		journaledAt = time.Now()
	)
	fail := func(err error) {
		mu.Lock()
		if firstEr == nil {
			firstEr = err
			cancel()
		}
		mu.Unlock()
	}
	// send seals and stores one block, then gives its slot back.
	send := func(j job) error {
		defer func() { <-slots }()
		digest := j.digest
		if digest == nil {
			d := crypto.Sum(j.plain)
			digest = &d
		}
		b := Block{ID: certificate.NewID(), Key: crypto.NewSecretKey(), Digest: *digest, Offset: j.off, Size: uint64(len(j.plain))}
		mu.Lock()
		several := multi // set before any block of such a file is sent
		mu.Unlock()
		var err error
		if batch != nil && !several && PaddedSize(b.Size)+crypto.SecretOverhead <= batchBlockMax {
			// Queued until the batch goes: sealed into a buffer of its
			// own size, not a pooled one.
			ct := sealBlock(w.org.ID, w.vault.ID, b, j.plain)
			ReleaseChunk(j.whole)
			err = batch.add(ctx, b.ID, ct)
		} else {
			err = w.blocks.PutBlock(ctx, w.vault.ID, b.ID, sealChunk(w.org.ID, w.vault.ID, b, j.plain, j.whole))
			// The buffer, which may hold the sealed block, is reused only
			// once the server has answered: a call that failed may still
			// be sending from it, and the chunker reads plaintext into
			// the buffers it reuses.
			if err == nil {
				ReleaseChunk(j.whole)
			}
		}
		if err != nil {
			return fmt.Errorf("uploading block %d: %w", j.i, err)
		}
		mu.Lock()
		for len(blocks) <= j.i {
			blocks = append(blocks, Block{})
		}
		blocks[j.i] = b
		done += int64(b.Size)
		d := done
		var record []Block
		if journal != nil && multi {
			unjournaled = append(unjournaled, b)
			if len(unjournaled) >= journalBlocks || time.Since(journaledAt) >= journalEvery {
				record, unjournaled, journaledAt = unjournaled, nil, time.Now()
			}
		}
		mu.Unlock()
		if record != nil {
			journal.sent(record)
		}
		if progress != nil {
			progress(d)
		}
		return nil
	}
	// Workers start as blocks come (a file of one block has none: its
	// block is sent by the goroutine that read it), at most cap(slots).
	workers := 0
	startWorker := func() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := send(j); err != nil {
					fail(err)
				}
			}
		}()
	}
	// Cut with the newest key's secret, which commit encrypts under: a
	// member removed at the last rotation can't predict the boundaries.
	index, _ := w.keys.Newest()
	secret, err := w.chunkingSecret(index)
	if err != nil {
		close(jobs)
		wg.Wait()
		return nil, 0, err
	}
	var size uint64
	var readErr error
	// process reuses or sends chunk i (alone: here, else through a
	// worker); false once the upload failed.
	process := func(i int, chunk, whole []byte, alone bool) bool {
		// A block the previous version already has is not sent again.
		b, digest, ok := reused(reuse, chunk)
		if ok {
			b.Offset = size
			mu.Lock()
			for len(blocks) <= i {
				blocks = append(blocks, Block{})
			}
			blocks[i] = b
			done += int64(b.Size)
			mu.Unlock()
			size += b.Size
			ReleaseChunk(whole)
			return true
		}
		select {
		case slots <- struct{}{}:
			j := job{i, chunk, whole, size, digest}
			if alone {
				if err := send(j); err != nil {
					fail(err)
				}
				break
			}
			if workers < cap(slots) {
				workers++
				startWorker()
			}
			select {
			case jobs <- j:
			case <-ctx.Done():
				<-slots
			}
		case <-ctx.Done():
		}
		size += uint64(len(chunk))
		return ctx.Err() == nil
	}
	// The first chunk waits for the second: only a file of more than one
	// block looks in and writes to the journal.
	var first, firstWhole []byte
	chunker := NewChunker(secret, r)
	for i := 0; ; i++ {
		chunk, whole, err := chunker.nextWhole()
		if err == io.EOF {
			if first != nil {
				process(0, first, firstWhole, true) // the file's only block
			}
			break
		}
		if err != nil {
			readErr = fmt.Errorf("reading: %w", err)
			break
		}
		if i == 0 {
			first, firstWhole = chunk, whole
			continue
		}
		if i == 1 {
			if journal != nil {
				for _, b := range journal.resumable() {
					reuse[blockKey{b.Digest, b.Size}] = b
				}
			}
			mu.Lock()
			multi = true
			mu.Unlock()
			ok := process(0, first, firstWhole, false)
			first, firstWhole = nil, nil
			if !ok {
				break
			}
		}
		if !process(i, chunk, whole, false) {
			break
		}
	}
	close(jobs)
	wg.Wait()
	if len(unjournaled) > 0 {
		journal.sent(unjournaled) // an upload that failed resumes from them too
	}
	if readErr != nil {
		return nil, 0, readErr
	}
	if firstEr != nil {
		return nil, 0, firstEr
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	return blocks, size, nil
}

// reused finds a chunk among the blocks a new version may reuse, hashing
// it only when there are some (the digest, if computed, is returned for
// the upload).
func reused(reuse map[blockKey]Block, chunk []byte) (Block, *crypto.Digest, bool) {
	if len(reuse) == 0 {
		return Block{}, nil, false
	}
	d := crypto.Sum(chunk)
	b, ok := reuse[blockKey{d, uint64(len(chunk))}]
	return b, &d, ok
}

// BlockBatcher is Blocks that can also store several small blocks of a
// vault in one call, with one group commit on the server (PutBlocks,
// SPEC.md §6.2). A Blocks without it gets every block put alone.
type BlockBatcher interface {
	PutBlocks(ctx context.Context, vaultID string, blocks []BlockData) error
}

// BlockData is one encrypted block of a BlockBatcher.PutBlocks call.
type BlockData struct {
	ID   string
	Data []byte
}

// Limits of the client's batches, within the server's (wire.MaxBatchBlocks,
// MaxBatchBytes: 256 blocks, 8 MiB): a batch is sent once it holds
// batchBlocks blocks or batchBytes bytes, and only blocks of at most
// batchBlockMax bytes join one (a larger block gains nothing from it).
const (
	batchBlocks   = 256
	batchBytes    = 4 << 20
	batchBlockMax = 256 << 10
)

// blockBatch queues the blocks of a PutFiles call's small files and sends
// them in batches.
type blockBatch struct {
	w  *Vault
	to BlockBatcher

	mu      sync.Mutex
	pending []BlockData
	bytes   int
}

// newBlockBatch returns the batch of one PutFiles call, nil if the
// vault's Blocks can't store batches.
func (w *Vault) newBlockBatch() *blockBatch {
	to, ok := w.blocks.(BlockBatcher)
	if !ok {
		return nil
	}
	return &blockBatch{w: w, to: to}
}

// add queues a block. The caller whose block fills the batch sends it and
// waits: memory stays bounded and the queue can't outrun the server.
func (q *blockBatch) add(ctx context.Context, id string, data []byte) error {
	q.mu.Lock()
	q.pending = append(q.pending, BlockData{ID: id, Data: data})
	q.bytes += len(data)
	if len(q.pending) < batchBlocks && q.bytes < batchBytes {
		q.mu.Unlock()
		return nil
	}
	full := q.take()
	q.mu.Unlock()
	return q.send(ctx, full)
}

// flush sends what is queued (nil batch: nothing).
func (q *blockBatch) flush(ctx context.Context) error {
	if q == nil {
		return nil
	}
	q.mu.Lock()
	rest := q.take()
	q.mu.Unlock()
	return q.send(ctx, rest)
}

// take empties the queue, under q.mu.
func (q *blockBatch) take() []BlockData {
	out := q.pending
	q.pending, q.bytes = nil, 0
	return out
}

// send stores blocks: one alone goes as PutBlock.
func (q *blockBatch) send(ctx context.Context, blocks []BlockData) error {
	switch len(blocks) {
	case 0:
		return nil
	case 1:
		return q.w.blocks.PutBlock(ctx, q.w.vault.ID, blocks[0].ID, blocks[0].Data)
	}
	return q.to.PutBlocks(ctx, q.w.vault.ID, blocks)
}
