package blockdir

import (
	"errors"
	"os"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// directAlign is the alignment direct I/O needs here (of the memory, the
// length and the file offset): a page, a multiple of every logical block
// size in common use.
const directAlign = 4096

// writeLinked writes data to an unnamed file in dir (O_TMPFILE), syncs
// it and links it at path: no temporary name to create and remove. It
// returns errNoTmpfile if the file system has no unnamed files, and
// fs.ErrExist (through *os.LinkError) if path exists. gate, if not nil,
// runs between the sync and the link: its error is returned, and the
// file, closed unnamed, is gone.
//
// A block whose bytes start at a multiple of directAlign (wire.BlockCodec
// receives them so) is written around the page cache (O_DIRECT) but for
// its last partial page: copying a GiB of blocks into the page cache,
// then writing it out at the fsync, was most of a put's server CPU
// (issue 15); the fsync still makes the file durable either way.
func writeLinked(dir, path string, data []byte, gate func() error) error {
	flags := unix.O_TMPFILE | unix.O_WRONLY | unix.O_CLOEXEC
	direct := len(data) >= directAlign && uintptr(unsafe.Pointer(unsafe.SliceData(data)))%directAlign == 0
	fd, err := -1, error(nil)
	if direct {
		fd, err = unix.Open(dir, flags|unix.O_DIRECT, 0o600)
		// EINVAL: no direct I/O on this file system (or no O_TMPFILE,
		// which the open below tells).
		direct = err == nil
	}
	if !direct {
		fd, err = unix.Open(dir, flags, 0o600)
	}
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EINVAL) {
		return errNoTmpfile
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	if direct {
		if data, err = writeDirect(f, fd, data); err != nil {
			return err
		}
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if gate != nil {
		if err := gate(); err != nil {
			return err
		}
	}
	// linkat with AT_EMPTY_PATH needs a capability; through /proc it
	// does not.
	proc := "/proc/self/fd/" + strconv.Itoa(fd)
	if err := unix.Linkat(unix.AT_FDCWD, proc, unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			if _, statErr := os.Stat(proc); statErr != nil {
				return errNoTmpfile // no /proc
			}
		}
		return &os.LinkError{Op: "link", Old: proc, New: path, Err: err}
	}
	return f.Close()
}

// writeDirect writes the whole pages of data to f, opened with O_DIRECT,
// then turns O_DIRECT off; it returns what is left to write after them
// (the last partial page, or more if the device refused the alignment:
// EINVAL, then the rest goes through the page cache).
func writeDirect(f *os.File, fd int, data []byte) ([]byte, error) {
	n, err := f.Write(data[:len(data)&^(directAlign-1)])
	if err != nil && !errors.Is(err, unix.EINVAL) {
		return nil, err
	}
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err == nil {
		_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags&^unix.O_DIRECT)
	}
	if err != nil {
		return nil, &os.PathError{Op: "fcntl", Path: f.Name(), Err: err}
	}
	return data[n:], nil
}
