package workspace

import (
	"errors"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// directChunk is how many bytes a directFile writes at once; a multiple
// of every block size O_DIRECT asks alignment to.
const directChunk = 4 << 20

// directSyncEvery is how many bytes a directFile writes between two
// syncs behind its writes: small enough that the sync the caller makes
// at the end has little to flush, large enough that the syncs are few.
const directSyncEvery = 32 << 20

// directAlign is the alignment of O_DIRECT writes: offsets and lengths
// (the buffers are page-aligned, being mapped).
const directAlign = 4096

// directFile writes a download's file in order, around the page cache
// (O_DIRECT): the bytes go from one of two aligned buffers to the disk,
// the kernel neither allocating page cache for them nor copying them
// there (issue 15: the buffered writes of a 1 GiB get were 1.7 s of the
// client's CPU). One buffer is written by a goroutine while the other is
// filled. The last bytes, less than directAlign, are written buffered.
// The caller still syncs: the file's size and blocks are metadata, and
// the disk's own cache is only flushed by a sync. A direct write returns
// once the disk has the bytes in its cache, so that a sync at the end
// would flush the whole file while nothing else happens (0.3-0.8 s of a
// 1 GiB get, issue 15): the file is synced behind the writes instead,
// every directSyncEvery bytes, so that the last sync has little left.
// The flushing is the same; it pays where the disk has idle time during
// the transfer (BENCHMARKS.md, i28-get).
type directFile struct {
	f    *os.File
	fd   int
	cur  []byte // the buffer being filled
	n    int    // bytes in cur
	off  int64  // the file offset of cur[0]
	free chan []byte
	full chan directWrite
	done chan struct{}

	kick      chan struct{}      // asks syncer for a sync; one pending at most
	synced    chan struct{}      // closed when syncer has returned
	syncEvery int                // directSyncEvery (tests: less)
	datasync  func(fd int) error // unix.Fdatasync (tests: a failing one)
	unsynced  int                // bytes written since the last kick (the writer's)

	mu  sync.Mutex
	err error // the writer's first error
}

type directWrite struct {
	data []byte
	off  int64
}

// newDirectFile turns O_DIRECT on for f, a new empty file, or returns
// nil if its file system refuses it (tmpfs, some network ones).
func newDirectFile(f *os.File) *directFile {
	fd := int(f.Fd())
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return nil
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags|unix.O_DIRECT); err != nil {
		return nil
	}
	d := &directFile{f: f, fd: fd, free: make(chan []byte, 2), full: make(chan directWrite), done: make(chan struct{}),
		kick: make(chan struct{}, 1), synced: make(chan struct{}), syncEvery: directSyncEvery, datasync: unix.Fdatasync}
	for range 2 {
		b, err := unix.Mmap(-1, 0, directChunk, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
		if err != nil {
			d.unmap()
			d.buffered()
			return nil
		}
		d.free <- b
	}
	d.cur = <-d.free
	go d.writer()
	go d.syncer()
	return d
}

// writer writes the full buffers, each at its offset, and gives them
// back, asking for a sync behind them every directSyncEvery bytes.
func (d *directFile) writer() {
	defer close(d.done)
	defer close(d.kick)
	for w := range d.full {
		if d.failed() == nil {
			d.fail(d.pwrite(w.data, w.off))
		}
		d.free <- w.data
		if d.unsynced += len(w.data); d.unsynced >= d.syncEvery {
			d.unsynced = 0
			select {
			case d.kick <- struct{}{}:
			default: // a sync is pending: it will cover these bytes too
			}
		}
	}
}

// syncer syncs the file's data each time the writer asks, while the next
// buffers are filled and written. Its error is the file's: a failed sync
// is reported once per open file, so that the caller's own sync at the
// end could miss it.
func (d *directFile) syncer() {
	defer close(d.synced)
	for range d.kick {
		if d.failed() == nil {
			if err := d.datasync(d.fd); err != nil {
				d.fail(&os.PathError{Op: "sync", Path: d.f.Name(), Err: err})
			}
		}
	}
}

// pwrite writes b at off, buffered if the file system refuses the
// direct write after all.
func (d *directFile) pwrite(b []byte, off int64) error {
	for len(b) > 0 {
		n, err := unix.Pwrite(d.fd, b, off)
		if errors.Is(err, unix.EINVAL) {
			if err := d.buffered(); err != nil {
				return err
			}
			continue
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "write", Path: d.f.Name(), Err: err}
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}

// buffered turns O_DIRECT off.
func (d *directFile) buffered() error {
	flags, err := unix.FcntlInt(uintptr(d.fd), unix.F_GETFL, 0)
	if err == nil {
		_, err = unix.FcntlInt(uintptr(d.fd), unix.F_SETFL, flags&^unix.O_DIRECT)
	}
	return err
}

func (d *directFile) fail(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err == nil {
		d.err = err
	}
}

func (d *directFile) failed() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// Write copies p into the buffers, handing each full one to the writer.
func (d *directFile) Write(p []byte) (int, error) {
	if err := d.failed(); err != nil {
		return 0, err
	}
	n := len(p)
	for len(p) > 0 {
		c := copy(d.cur[d.n:], p)
		d.n += c
		p = p[c:]
		if d.n == len(d.cur) {
			d.full <- directWrite{d.cur, d.off}
			d.off += int64(d.n)
			d.cur, d.n = <-d.free, 0
		}
	}
	return n, nil
}

// Close writes what is buffered (its unaligned end without O_DIRECT),
// waits for the writer and unmaps the buffers; the file stays open.
func (d *directFile) Close() error {
	aligned := d.n &^ (directAlign - 1)
	if aligned > 0 {
		d.full <- directWrite{d.cur[:aligned], d.off} // comes back to free, its end unread
	}
	close(d.full)
	<-d.done
	<-d.synced
	err := d.failed()
	if err == nil && d.n > aligned {
		if err = d.buffered(); err == nil {
			_, err = d.f.WriteAt(d.cur[aligned:d.n], d.off+int64(aligned))
		}
	}
	if aligned == 0 {
		unix.Munmap(d.cur)
	}
	d.cur = nil
	d.unmap()
	return err
}

// unmap unmaps the free buffers.
func (d *directFile) unmap() {
	for {
		select {
		case b := <-d.free:
			unix.Munmap(b)
		default:
			return
		}
	}
}
