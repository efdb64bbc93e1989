package blockdir

import (
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// writeLinked writes data to an unnamed file in dir (O_TMPFILE), syncs
// it and links it at path: no temporary name to create and remove. It
// returns errNoTmpfile if the file system has no unnamed files, and
// fs.ErrExist (through *os.LinkError) if path exists.
func writeLinked(dir, path string, data []byte) error {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EINVAL) {
		return errNoTmpfile
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
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
