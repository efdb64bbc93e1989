package blockdir

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// alignedBytes returns n bytes starting at a multiple of directAlign (or
// one byte past it), filled with a pattern.
func alignedBytes(n int, misaligned bool) []byte {
	buf := make([]byte, n+2*directAlign)
	off := int((directAlign - uintptr(unsafe.Pointer(&buf[0]))%directAlign) % directAlign)
	if misaligned {
		off++
	}
	b := buf[off : off+n]
	for i := range b {
		b[i] = byte(i*7 + i>>12)
	}
	return b
}

// TestWriteDirect: blocks of every size around a page, from aligned and
// misaligned memory, read back as written.
func TestWriteDirect(t *testing.T) {
	s := mustOpen(t)
	ctx := t.Context()
	i := 0
	for _, n := range []int{0, 100, directAlign - 1, directAlign, directAlign + 1, 3*directAlign + 17, 1<<20 + 300, 1 << 20} {
		for _, misaligned := range []bool{false, true} {
			i++
			id := "ab" + string(rune('a'+i/26)) + string(rune('a'+i%26)) + "0000"
			data := alignedBytes(n, misaligned)
			if err := s.PutBlock(ctx, "orgaaaaa", "vaultaaa", id, data); err != nil {
				t.Fatalf("%d bytes (misaligned %v): %v", n, misaligned, err)
			}
			got, err := s.GetBlock(ctx, "orgaaaaa", "vaultaaa", id)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%d bytes (misaligned %v): read back %d bytes (%v), not what was written", n, misaligned, len(got), err)
			}
		}
	}
}

// TestWriteDirectSkipsPageCache: a large block from aligned memory leaves
// at most its last partial page in the page cache (written around it), so
// a put of a GiB does not copy a GiB into the cache first.
func TestWriteDirectSkipsPageCache(t *testing.T) {
	s := mustOpen(t)
	probe, err := unix.Open(s.dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_DIRECT, 0o600)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) {
		t.Skipf("no direct I/O on unnamed files in %s: %v", s.dir, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(probe)
	const n = 1<<20 + 300
	if err := s.PutBlock(t.Context(), "orgaaaaa", "vaultaaa", "ab000001", alignedBytes(n, false)); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(s.dir, "orgaaaaa", "vaultaaa", "ab", "ab000001"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, n, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	page := os.Getpagesize()
	vec := make([]byte, (n+page-1)/page)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal("mincore:", errno)
	}
	resident := 0
	for _, v := range vec {
		resident += int(v & 1)
	}
	if resident > 1 {
		t.Errorf("%d of the block's %d pages are in the page cache after the put, want at most its last one", resident, len(vec))
	}
}
