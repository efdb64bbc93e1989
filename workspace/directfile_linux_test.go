package workspace

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
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
