package workspace

import "os"

// writeBehindEvery is how many bytes a download writes between two
// requests to the kernel to start writing the file out.
const writeBehindEvery = 32 << 20

// writeBehind is a download's file, written in order, that asks the
// kernel to start writing each writeBehindEvery bytes to disk once they
// are written, without waiting: the final sync (a file is in place only
// once durable) then finds little left to write, and the disk works
// while the next blocks arrive instead of after the last one (issue 15:
// the sync of a 1 GiB file was seconds at the end of the get).
type writeBehind struct {
	f       *os.File
	written int64 // bytes written through w
	started int64 // of which the kernel was asked to write out
}

func newWriteBehind(f *os.File) *writeBehind { return &writeBehind{f: f} }

// Write writes p at the file's position; once writeBehindEvery bytes
// were written since the last request, it asks for those.
func (w *writeBehind) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.written += int64(n)
	if err == nil && w.written-w.started >= writeBehindEvery {
		startWriteback(w.f, w.written-w.started)
		w.started = w.written
	}
	return n, err
}
