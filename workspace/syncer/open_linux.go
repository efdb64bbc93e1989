package syncer

import (
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/sys/unix"
)

// openRegular opens the regular file p (slashes, from the folder) for an
// upload and describes it as opened, following no link on the way or at
// p (SPEC.md §12): one openat2 below the folder that refuses any link
// (RESOLVE_NO_SYMLINKS, RESOLVE_BENEATH), a non-blocking open (a FIFO put
// there meanwhile does not wait for a writer) and an fstat that must show
// a regular file. That is two system calls where openByRoot, which it
// falls back to on kernels without openat2, makes eight for a file at
// the root (Lstat, the open's, the runtime poller's, Stat): a tenth of a
// sync of small files' CPU.
func (e *Engine) openRegular(p string) (io.ReadCloser, *local, error) {
	if e.rootDir == nil {
		return e.openByRoot(p)
	}
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW | unix.O_NONBLOCK,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	var fd int
	var err error = unix.EINTR
	for err == unix.EINTR {
		fd, err = unix.Openat2(int(e.rootDir.Fd()), rel(p), &how)
	}
	switch {
	case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM):
		return e.openByRoot(p) // no openat2 here (an old kernel, a seccomp filter)
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.EXDEV):
		return nil, nil, fmt.Errorf("%s: %w", p, ErrLink) // a link on the way or at p
	case err != nil:
		return nil, nil, &fsError{op: "open", path: p, err: err}
	}
	var st unix.Stat_t
	err = unix.EINTR
	for err == unix.EINTR {
		err = unix.Fstat(fd, &st)
	}
	if err == nil && st.Mode&unix.S_IFMT != unix.S_IFREG {
		err = fmt.Errorf("%s: %w", p, ErrLink) // a folder or special file now
	}
	if err != nil {
		unix.Close(fd)
		return nil, nil, err
	}
	l := &local{size: st.Size, mtimeNs: time.Unix(st.Mtim.Sec, st.Mtim.Nsec).UnixNano()}
	return &regularFile{fd: fd, left: st.Size}, l, nil
}

// fsError is an error of a system call on a path of the folder.
type fsError struct {
	op, path string
	err      error
}

func (e *fsError) Error() string { return e.op + " " + e.path + ": " + e.err.Error() }
func (e *fsError) Unwrap() error { return e.err }

// regularFile reads an opened file up to the size it had when opened:
// what is uploaded is described by the state at opening, and a file that
// changes meanwhile is sent again by the next cycle. Its Len tells the
// chunker how much is left, so a small file gets a buffer of its size and
// needs no read to find its end.
type regularFile struct {
	fd   int
	left int64
}

func (f *regularFile) Read(b []byte) (int, error) {
	if f.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > f.left {
		b = b[:f.left]
	}
	for {
		n, err := unix.Read(f.fd, b)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(b) > 0:
			f.left = 0 // shorter than when opened
			return 0, io.EOF
		}
		f.left -= int64(n)
		return n, nil
	}
}

// Len is how many bytes are left to read.
func (f *regularFile) Len() int { return int(f.left) }

func (f *regularFile) Close() error { return unix.Close(f.fd) }
