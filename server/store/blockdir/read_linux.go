package blockdir

import (
	"errors"
	"io"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// readFile reads the first size bytes of f into b, whose capacity is at
// least readLen(size). A block the page cache holds whole is copied from
// it; any other is read around the page cache (O_DIRECT), in one request
// of the whole block straight into b: a cold read through the page cache
// fills it in read-ahead windows, then copies the block out (issue 15:
// 1.0 to 1.3 s of the server's CPU per GiB of a cold get). The server
// writes blocks around the page cache too (writeLinked), so that a block
// is rarely there but for its last page.
func readFile(f *os.File, b []byte, size int) error {
	fd := int(f.Fd())
	off := 0
	if !cached(fd, size) && cap(b) >= readLen(size) && uintptr(unsafe.Pointer(unsafe.SliceData(b)))%directAlign == 0 && setDirect(fd, true) {
		n, err := f.ReadAt(b[:readLen(size)], 0)
		setDirect(fd, false)
		if err != nil && err != io.EOF && !errors.Is(err, unix.EINVAL) {
			return err
		}
		off = min(n, size) &^ (directAlign - 1) // after a short read (EINVAL: refused), the rest from its page
		if n >= size {
			return nil
		}
	}
	_, err := f.ReadAt(b[off:size], int64(off))
	return err
}

// cached reports whether the page cache holds every page of the first
// size bytes of fd (cachestat: Linux 6.5 and later; false before).
func cached(fd, size int) bool {
	var st unix.Cachestat_t
	err := unix.Cachestat(uint(fd), &unix.CachestatRange{Off: 0, Len: uint64(size)}, &st, 0)
	page := os.Getpagesize()
	return err == nil && st.Cache >= uint64((size+page-1)/page)
}

// setDirect turns O_DIRECT on or off for fd; false if it could not (a
// file system without direct I/O refuses it).
func setDirect(fd int, on bool) bool {
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return false
	}
	if on {
		flags |= unix.O_DIRECT
	} else {
		flags &^= unix.O_DIRECT
	}
	_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags)
	return err == nil
}

// readLen is the buffer readFile needs for a file of size bytes: size
// rounded up to a multiple of directAlign.
func readLen(size int) int { return (size + directAlign - 1) &^ (directAlign - 1) }
