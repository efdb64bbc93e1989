package workspace

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback starts writing to disk the n bytes of f before its
// position and returns without waiting for them; it is only a hint: the
// caller still syncs (and a file that is not a regular one refuses it).
func startWriteback(f *os.File, n int64) {
	end, err := f.Seek(0, io.SeekCurrent)
	if err != nil || end < n {
		return
	}
	_ = unix.SyncFileRange(int(f.Fd()), end-n, n, unix.SYNC_FILE_RANGE_WRITE)
}
