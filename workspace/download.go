package workspace

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Get writes the file at p (newest, or as of at) to dest, which must not
// exist: a file already there is ErrLocalExists, checked before the
// download and again, atomically, when the file is put in place. It
// writes to a temporary file beside dest and puts it there only once every
// block matched its signed digest: a tampered or partial file never
// appears.
func (w *Vault) Get(ctx context.Context, p string, at time.Time, dest string, progress Progress) (Version, error) {
	if err := localFree(dest); err != nil {
		return Version{}, err
	}
	return w.get(ctx, p, at, dest, false, progress)
}

// GetReplace is Get over a file that may exist: it is replaced by a
// rename, so dest is at every moment the old file or the new one, whole.
func (w *Vault) GetReplace(ctx context.Context, p string, at time.Time, dest string, progress Progress) (Version, error) {
	return w.get(ctx, p, at, dest, true, progress)
}

func (w *Vault) get(ctx context.Context, p string, at time.Time, dest string, replace bool, progress Progress) (Version, error) {
	ver, err := w.Stat(p, at)
	if err != nil {
		return Version{}, err
	}
	if ver.Manifest.Folder {
		return Version{}, fmt.Errorf("%s: %w", p, ErrIsFolder)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".coffre-*")
	if err != nil {
		return Version{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	var out io.Writer = newWriteBehind(tmp)
	finish := func() error { return nil }
	if d := newDirectFile(tmp); d != nil {
		out, finish = d, d.Close
	}
	err = w.fetchInOrder(ctx, ver.Manifest, out, progress)
	if ferr := finish(); err == nil {
		err = ferr
	}
	if err != nil {
		return Version{}, err
	}
	if err := tmp.Sync(); err != nil {
		return Version{}, err
	}
	if err := tmp.Close(); err != nil {
		return Version{}, err
	}
	return ver, placeFile(tmp.Name(), dest, replace)
}

// blocksFetched is how many blocks a download has in flight: a cold
// block costs the server a disk read, so that several overlap, more than
// there are cores to open them (issue 15).
func blocksFetched(parallel int) int { return max(2*parallel, 8) }

// WriteTo writes the file at p (newest, or as of at) to out, in order,
// each block once it matched its signed digest, with a few fetched ahead.
// Nothing is staged anywhere else; a failure leaves out with a verified
// prefix of the file and returns the error.
func (w *Vault) WriteTo(ctx context.Context, p string, at time.Time, out io.Writer, progress Progress) (Version, error) {
	ver, err := w.Stat(p, at)
	if err != nil {
		return Version{}, err
	}
	if ver.Manifest.Folder {
		return Version{}, fmt.Errorf("%s: %w", p, ErrIsFolder)
	}
	if f, ok := out.(*os.File); ok {
		out = newWriteBehind(f)
	}
	if err := w.fetchInOrder(ctx, ver.Manifest, out, progress); err != nil {
		return Version{}, err
	}
	return ver, nil
}

// fetchInOrder fetches and checks a file's blocks with blocksFetched in
// flight and writes each to out in file order, from one goroutine: the
// file is written sequentially, each write after the last (issue 15:
// eight fetchers writing at their offsets at once cost the get more CPU
// in its writes than the sequential writes of the same bytes).
//
// After a failure no block is started, but those in flight finish: each
// one that arrives is in the block cache, so that the next attempt
// resumes after it (SPEC.md §11.7) instead of fetching it again.
func (w *Vault) fetchInOrder(ctx context.Context, m *Manifest, out io.Writer, progress Progress) error {
	type fetched struct {
		plain []byte
		buf   []byte // what plain is in: ours once plain is written
		err   error
	}
	reuser, _ := w.blocks.(BlockReuser)
	// Each block's result comes through its own channel, queued in file
	// order; the queue's capacity bounds the blocks in flight.
	queue := make(chan chan fetched, blocksFetched(w.parallel))
	stop := make(chan struct{})
	keep := w.keepsFile(m.Size)
	go func() {
		defer close(queue)
		for _, b := range m.Blocks {
			ch := make(chan fetched, 1)
			select {
			case queue <- ch:
			case <-stop:
				return
			case <-ctx.Done():
				return
			}
			go func() {
				plain, buf, err := w.openBlock(ctx, b, keep)
				ch <- fetched{plain, buf, err}
			}()
		}
	}()
	fail := func(err error) error {
		close(stop)
		for ch := range queue {
			<-ch
		}
		return err
	}
	var done int64
	for ch := range queue {
		f := <-ch
		if f.err != nil {
			return fail(f.err)
		}
		if _, err := out.Write(f.plain); err != nil {
			return fail(err)
		}
		if reuser != nil {
			reuser.ReuseBlock(f.buf) // out did not keep it: an io.Writer must not
		}
		if done += int64(len(f.plain)); progress != nil {
			progress(done)
		}
	}
	return ctx.Err()
}

// fileKeeper is a BlockCache that keeps only the blocks of files up to
// some size: a large sequential read would push out everything else.
type fileKeeper interface{ KeepsFile(size uint64) bool }

// keepsFile reports whether the blocks of a file of size bytes go into
// the block cache once verified.
func (w *Vault) keepsFile(size uint64) bool {
	if w.cache == nil {
		return false
	}
	k, ok := w.cache.(fileKeeper)
	return !ok || k.KeepsFile(size)
}

// openBlock fetches a block and checks it against its signed digest; a
// block that passes goes into the block cache if keep. The plaintext is in
// buf, the caller's, which the block cache does not keep.
func (w *Vault) openBlock(ctx context.Context, b Block, keep bool) (plain, buf []byte, err error) {
	ct, err := w.blocks.GetBlock(ctx, w.vault.ID, b.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("block %s: %w", b.ID, err)
	}
	opened := ct
	if keep {
		opened = bytes.Clone(ct) // the cache keeps the ciphertext; openBlock overwrites what it opens
	}
	plain, err = openBlock(w.org.ID, w.vault.ID, b, opened)
	if err != nil {
		if w.cache != nil {
			w.cache.BlockRejected(w.vault.ID, b.ID)
		}
		return nil, nil, fmt.Errorf("block %s: %w", b.ID, ErrBadBlock)
	}
	if keep {
		w.cache.BlockVerified(w.vault.ID, b.ID, ct)
	}
	return plain, opened, nil
}
