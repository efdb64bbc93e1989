package workspace

import (
	"os"
	"sync/atomic"
)

// writeBehindEvery is how many bytes a download writes between two
// requests to the kernel to start writing the file out.
const writeBehindEvery = 32 << 20

// writeBehind is a download's file that asks the kernel to start writing
// its pages to disk every writeBehindEvery bytes, without waiting: the
// final sync (a file is in place only once durable) then finds little
// left to write, and the disk works while the next blocks arrive instead
// of after the last one (issue 15: the sync of a 1 GiB file was seconds
// at the end of the get).
type writeBehind struct {
	f       *os.File
	written atomic.Int64
}

func newWriteBehind(f *os.File) *writeBehind { return &writeBehind{f: f} }

// WriteAt writes p at off; the writer that crosses a multiple of
// writeBehindEvery starts the writeback of what is dirty.
func (w *writeBehind) WriteAt(p []byte, off int64) (int, error) {
	n, err := w.f.WriteAt(p, off)
	after := w.written.Add(int64(n))
	if err == nil && after/writeBehindEvery != (after-int64(n))/writeBehindEvery {
		startWriteback(w.f)
	}
	return n, err
}
