package workspace

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDirectFileWritesWhatItIsGiven: a file written through directFile in
// writes of any size holds exactly those bytes, whatever its length
// against the buffers and the alignment (the end written buffered).
func TestDirectFileWritesWhatItIsGiven(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, directAlign - 1, directAlign, directAlign + 1, directChunk, directChunk + 5, 3*directChunk + directAlign + 17} {
		want := make([]byte, size)
		for i := range want {
			want[i] = byte(r.Uint32())
		}
		f, err := os.Create(filepath.Join(t.TempDir(), "f"))
		if err != nil {
			t.Fatal(err)
		}
		d := newDirectFile(f)
		if d == nil {
			f.Close()
			t.Skip("this file system refuses O_DIRECT")
		}
		for p := want; len(p) > 0; {
			n := min(len(p), 1+r.IntN(1<<20+3))
			if m, err := d.Write(p[:n]); err != nil || m != n {
				t.Fatalf("size %d: Write = %d, %v", size, m, err)
			}
			p = p[n:]
		}
		if err := d.Close(); err != nil {
			t.Fatalf("size %d: Close: %v", size, err)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		got, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("size %d: the file holds %d bytes, not the %d written", size, len(got), len(want))
		}
	}
}

// newTestDirectFile is a directFile on a new file of dir that syncs
// behind its writes after every buffer, through datasync.
func newTestDirectFile(t *testing.T, datasync func(fd int) error) (*directFile, *os.File) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	d := newDirectFile(f)
	if d == nil {
		t.Skip("this file system refuses O_DIRECT")
	}
	// Set before the first Write: the writer reads them after receiving
	// that write's buffer.
	d.syncEvery, d.datasync = directChunk, datasync
	return d, f
}

// TestDirectFileSyncsBehindItsWrites: a large file is synced while it is
// written, not only by the caller's sync at the end (issue 15: that last
// sync flushed the whole file while nothing else happened), and holds
// what was written.
func TestDirectFileSyncsBehindItsWrites(t *testing.T) {
	var syncs atomic.Int32
	d, f := newTestDirectFile(t, func(fd int) error {
		syncs.Add(1)
		return unix.Fdatasync(fd)
	})
	want := make([]byte, 4*directChunk+directAlign+3)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range want {
		want[i] = byte(r.Uint32())
	}
	if _, err := d.Write(want); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if syncs.Load() == 0 {
		t.Error("no sync behind the writes of a file of four buffers and more")
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the file holds %d bytes, not the %d written", len(got), len(want))
	}
}

// TestDirectFileFailsOnAFailedSyncBehindItsWrites: a sync behind the
// writes that fails fails the file (Close), whatever the caller's own
// sync says later: the kernel reports a write-back error once per open
// file, to the first sync that sees it, so that a dropped one would let a
// file whose bytes the disk lost be put in place.
func TestDirectFileFailsOnAFailedSyncBehindItsWrites(t *testing.T) {
	d, _ := newTestDirectFile(t, func(int) error { return unix.EIO })
	if _, err := d.Write(make([]byte, 3*directChunk)); err != nil && !errors.Is(err, unix.EIO) {
		t.Fatal(err)
	}
	if err := d.Close(); !errors.Is(err, unix.EIO) {
		t.Fatalf("Close = %v after a failed sync behind the writes, want EIO", err)
	}
}
