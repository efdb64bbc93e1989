package workspace

import (
	"bytes"
	"io"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/coffre/coffre/crypto"
)

func chunks(t *testing.T, secret, data []byte) [][]byte {
	t.Helper()
	return chunksOf(t, NewChunker(secret, bytes.NewReader(data)))
}

// chunksOf is every chunk of c.
func chunksOf(t *testing.T, c *Chunker) [][]byte {
	t.Helper()
	var out [][]byte
	for {
		b, err := c.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewChaCha8([32]byte{byte(seed)}))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestChunkerCutsByContent(t *testing.T) {
	secret := []byte("vault secret")
	data := randomBytes(1, 24<<20)
	a := chunks(t, secret, data)
	if !bytes.Equal(bytes.Join(a, nil), data) {
		t.Fatal("chunks don't add up to the data")
	}
	for i, c := range a {
		if len(c) > MaxChunk || (len(c) < MinChunk && i != len(a)-1) {
			t.Fatalf("chunk %d has %d bytes", i, len(c))
		}
	}
	if avg := len(data) / len(a); avg < AvgChunk/2 || avg > 2*AvgChunk {
		t.Fatalf("average chunk %d bytes, want about %d", avg, AvgChunk)
	}
	// Inserting bytes near the start changes only the chunks around it.
	edited := append(append(append([]byte(nil), data[:3<<20]...), []byte("a small edit")...), data[3<<20:]...)
	b := chunks(t, secret, edited)
	same := map[string]bool{}
	for _, c := range a {
		same[string(c)] = true
	}
	changed := 0
	for _, c := range b {
		if !same[string(c)] {
			changed++
		}
	}
	if changed > 2 {
		t.Fatalf("a 12-byte insertion changed %d of %d chunks", changed, len(b))
	}
	// Another vault's secret cuts elsewhere.
	other := chunks(t, []byte("another vault"), data)
	if len(other) > 1 && len(a) > 1 && len(other[0]) == len(a[0]) && len(other[1]) == len(a[1]) {
		t.Fatal("two secrets gave the same boundaries")
	}
}

func TestChunkerSmallAndEmpty(t *testing.T) {
	if c := chunks(t, nil, nil); len(c) != 0 {
		t.Fatalf("empty input gave %d chunks", len(c))
	}
	small := randomBytes(2, 1000)
	if c := chunks(t, nil, small); len(c) != 1 || !bytes.Equal(c[0], small) {
		t.Fatal("a small input must be one chunk")
	}
}

// TestChunkingSecretPerKey: the same content is cut elsewhere under the
// next vault key's chunking secret, so a member removed at a rotation
// can't predict the boundaries of what is written after it (SECURITY.md
// A35).
func TestChunkingSecretPerKey(t *testing.T) {
	data := randomBytes(3, 8<<20)
	k1, k2 := crypto.NewSecretKey(), crypto.NewSecretKey()
	sizes := func(secret []byte) []int {
		var out []int
		for _, c := range chunks(t, secret, data) {
			out = append(out, len(c))
		}
		return out
	}
	a, again, b := sizes(ChunkingSecret(k1)), sizes(ChunkingSecret(k1)), sizes(ChunkingSecret(k2))
	if !slices.Equal(a, again) {
		t.Fatal("one key cuts the same content two ways")
	}
	if slices.Equal(a, b) {
		t.Fatalf("two keys cut the same content at the same places: %v", a)
	}
}

// TestPaddedSize: every block size maps to a bucket at least as large,
// at most 12% larger (and at least 4 KiB), never over MaxChunk; buckets
// are their own bucket, and a padded block sealed fits the server's
// 4 MiB block limit (SPEC.md §11.3).
func TestPaddedSize(t *testing.T) {
	for _, c := range []struct{ n, want uint64 }{
		{1, 4096}, {4096, 4096}, {4097, 4352}, {100 << 10, 100 << 10}, {100<<10 + 1, 100<<10 + 2048},
		{1 << 20, 1 << 20}, {1<<20 + 1, 1<<20 + 32<<10}, {MaxChunk - 1, MaxChunk}, {MaxChunk, MaxChunk},
	} {
		if got := PaddedSize(c.n); got != c.want {
			t.Errorf("PaddedSize(%d) = %d, want %d", c.n, got, c.want)
		}
	}
	r := rand.New(rand.NewChaCha8([32]byte{4}))
	buckets := map[uint64]bool{}
	for range 100000 {
		n := 1 + r.Uint64N(MaxChunk)
		p := PaddedSize(n)
		buckets[p] = true
		if p < n || p > MaxChunk || (n > minPadded && float64(p) > 1.12*float64(n)) || PaddedSize(p) != p {
			t.Fatalf("PaddedSize(%d) = %d", n, p)
		}
	}
	if ct := len(sealBlock("o", "v", Block{ID: "b", Key: crypto.NewSecretKey()}, make([]byte, MaxChunk))); ct > 4<<20 {
		t.Fatalf("a full block seals to %d bytes, over the server's limit", ct)
	}
	t.Logf("%d buckets seen", len(buckets))
}

// scanGear, four bytes at a time, finds the cut the byte-by-byte gear hash
// finds, with the same hash after it, for every length and alignment and
// masks that cut often (so that every lane of the four is where a cut
// lands, many times).
func TestScanGearMatchesByteByByte(t *testing.T) {
	gear := gearTable([]byte("vault secret"))
	data := randomBytes(2, 1<<20)
	for _, mask := range []uint64{maskSmall, maskLarge, 0xf000000000000000, 0xc000000000000003, 1 << 63} {
		for start := 0; start < 8; start++ {
			for _, n := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 1000, 1 << 20} {
				if start+n > len(data) {
					continue
				}
				b := data[start : start+n]
				for _, h0 := range []uint64{0, 0xdeadbeefcafe} {
					at, h := scanGear(gear, b, h0, mask)
					wantAt, wantH := -1, h0
					for i, c := range b {
						wantH = wantH<<1 + gear[c]
						if wantH&mask == 0 {
							wantAt = i
							break
						}
					}
					if at != wantAt || h != wantH {
						t.Fatalf("mask %#x, bytes [%d:%d]: cut after %d (hash %#x), byte by byte %d (%#x)", mask, start, start+n, at, h, wantAt, wantH)
					}
				}
			}
		}
	}
}

func BenchmarkChunker(b *testing.B) {
	data := randomBytes(3, 64<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		c := NewChunker([]byte("vault secret"), bytes.NewReader(data))
		for {
			chunk, err := c.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			ReleaseChunk(chunk)
		}
	}
}

// TestChunkerSizedInput: an input that tells its length (Len) is cut
// exactly as one that does not, and a small one is read into a buffer of
// its size plus one byte, not 16 KiB.
func TestChunkerSizedInput(t *testing.T) {
	for _, n := range []int{0, 1, 4096, 16<<10 - 1, 16 << 10, 16<<10 + 3, MinChunk - 1, MinChunk, MinChunk + 1, 3 << 20} {
		data := randomBytes(uint64(n), n)
		sized := chunks(t, []byte("k"), data)
		plain := chunksOf(t, NewChunker([]byte("k"), struct{ io.Reader }{bytes.NewReader(data)}))
		if !slices.EqualFunc(sized, plain, bytes.Equal) {
			t.Errorf("%d bytes: cut in %d chunks with Len, %d without", n, len(sized), len(plain))
		}
		if n > 0 && n < MinChunk && cap(sized[0]) != n+1 {
			t.Errorf("%d bytes: a buffer of %d bytes, want %d", n, cap(sized[0]), n+1)
		}
	}
}

// refChunkSizes cuts data byte by byte by the chunking rules (SPEC.md
// §11.6), whatever the buffers: the sizes the chunker must give.
func refChunkSizes(secret, data []byte) []int {
	gear := gearTable(secret)
	var sizes []int
	for len(data) > 0 {
		n := min(len(data), MaxChunk)
		cut := n
		var h uint64
		for i := MinChunk; i < n; i++ {
			h = h<<1 + gear[data[i]]
			mask := uint64(maskSmall)
			if i >= AvgChunk {
				mask = maskLarge
			}
			if h&mask == 0 {
				cut = i + 1
				break
			}
		}
		sizes = append(sizes, cut)
		data = data[cut:]
	}
	return sizes
}

// onlyReader hides a reader's Len, as standard input does.
type onlyReader struct{ io.Reader }

// A large input's chunks each come in the smallest of the pooled buffers
// that holds it sealed (issue 15: an upload holds its blocks' buffers
// until the server answers), cut where the rules say whatever buffer they
// were read into, and every buffer given back as soon as its chunk is
// read does not change a chunk returned before or after.
func TestChunkBuffersSizedToChunks(t *testing.T) {
	secret := []byte("vault secret")
	// Random bytes (chunks of every size around AvgChunk), then zeros
	// (never cut before MaxChunk: the largest buffers), then random again.
	data := slices.Concat(randomBytes(5, 40<<20), make([]byte, 9<<20), randomBytes(6, 3<<20))
	want := refChunkSizes(secret, data)
	used := map[int]int{}
	for _, in := range []io.Reader{bytes.NewReader(data), onlyReader{bytes.NewReader(data)}} {
		c := NewChunker(secret, in)
		var got []int
		var joined []byte
		for {
			chunk, whole, err := c.nextWhole()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, len(chunk))
			joined = append(joined, chunk...)
			class := chunkClass(cap(whole))
			smallest := slices.IndexFunc(chunkSizes[:], func(n int) bool { return n >= len(chunk) })
			if len(chunk) > MinChunk && class != smallest {
				t.Fatalf("chunk %d (%d bytes) is in a buffer of class %d (capacity %d), want %d", len(got), len(chunk), class, cap(whole), smallest)
			}
			if class >= 0 && crypto.SecretOverhead+int(PaddedSize(uint64(len(chunk)))) > cap(whole) {
				t.Fatalf("chunk %d (%d bytes) has no room to be sealed in its buffer (%d)", len(got), len(chunk), cap(whole))
			}
			used[class]++
			ReleaseChunk(whole)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%T: the chunker cut %d chunks %v, the rules %d %v", in, len(got), got, len(want), want)
		}
		if !bytes.Equal(joined, data) {
			t.Fatalf("%T: the chunks do not make the input: a buffer given back was written over", in)
		}
	}
	for i := range chunkSizes {
		if used[i] == 0 {
			t.Errorf("no chunk in a buffer of %d bytes: the input does not test them all (%v)", chunkSizes[i], used)
		}
	}
}
