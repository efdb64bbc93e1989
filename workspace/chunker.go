package workspace

import (
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"sync"

	"github.com/coffre/coffre/crypto"
)

// Content-defined chunking (FastCDC with normalised chunking): block
// boundaries depend on the content, so an edit in a large file changes only
// the blocks around it and the rest are reused (SPEC.md §11.6). The gear
// table is derived from a secret of the vault key the content is written
// under (SPEC.md §11.3), so that boundaries, which the server sees as block
// sizes, say nothing about content it could guess.
const (
	MinChunk = 256 << 10
	AvgChunk = 1 << 20
	MaxChunk = 4<<20 - 4<<10 // under the server's block limit once sealed
)

// Normalised chunking: 22 mask bits before AvgChunk (cuts are rare), 18
// after (cuts come soon), spread over the hash's high bits.
const (
	maskSmall = 0x2aa5552aa5550000
	maskLarge = 0x2525252525250000
)

// ChunkingSecret derives the chunking secret of one vault key: content
// written under key i is cut with key i's secret, so a rotation gives new
// boundaries that a member removed by it can't predict (SECURITY.md A35).
func ChunkingSecret(key crypto.SecretKey) []byte {
	k := crypto.DeriveKey(key.Bytes(), "chunking", nil)
	return k.Bytes()
}

// gears caches gear tables by secret: a vault's table is derived once,
// not for every file.
var gears sync.Map // string(secret) → *[256]uint64

func gearTable(secret []byte) *[256]uint64 {
	if g, ok := gears.Load(string(secret)); ok {
		return g.(*[256]uint64)
	}
	g := new([256]uint64)
	for i := range g {
		d := crypto.LabeledSum("chunking-gear", secret, []byte{byte(i)})
		g[i] = binary.BigEndian.Uint64(d[:8])
	}
	gears.Store(string(secret), g)
	return g
}

// Chunker cuts a stream into content-defined chunks. It reads only as far
// as it has looked for a boundary (a small file gets a small buffer, not
// MaxChunk), and each chunk it returns is its own buffer: nothing is copied
// at a cut but the few bytes read past it.
type Chunker struct {
	gear  *[256]uint64
	r     io.Reader
	buf   []byte // the bytes read and not yet returned
	whole []byte // buf's buffer: chunkRoom bytes, then buf, then spare capacity
	eof   bool
}

// chunkRoom is how many bytes every buffer of the chunker has before its
// chunk: the sealed block's header and nonce, so that the put seals a
// chunk where it lies (sealChunk).
const chunkRoom = crypto.SecretPrefix

// readStep is how far the chunker reads past what it has scanned.
const readStep = 256 << 10

// The buffers of large inputs have the capacity of a padding bucket's
// plaintext (PaddedSize) with room to seal it in place (chunkRoom before,
// the tag after). A chunker starts each chunk in the smallest of
// chunkSizes and moves what it read to the next size only when the chunk
// is not cut within, which few are: normalised chunking cuts soon after
// AvgChunk (0.12 of chunks are longer than 1.5 MiB, 0.02 than 2 MiB). An
// upload holds its blocks' buffers until the server answers, so their
// size is most of its memory (issue 15: one size of 2 MiB raised the peak
// of a 10 GiB put from 80 to 95 MB).
//
// The first two sizes are reused through pools (a new buffer for each
// chunk longer than 1.5 MiB was enough garbage to double the collections
// of a put); MaxChunk's are not: a pool keeps as many buffers as were in
// use at once between two collections, and few collections run when
// nothing is garbage (pools of four sizes and no memory limit: 48 MB live,
// 138 MB peak).
var chunkSizes = [...]int{3 << 19, 2 << 20, MaxChunk}

var chunkPools [2]sync.Pool // of *[]byte, of chunkSizes[0] and [1]

// chunkClass is the index in chunkSizes of a buffer of capacity n, -1 if
// none.
func chunkClass(n int) int {
	for i, size := range chunkSizes {
		if n == sealedCap(size) {
			return i
		}
	}
	return -1
}

// sealedCap is the capacity of a buffer for a chunk of up to n bytes
// sealed in place (n a padding bucket, so a shorter chunk pads within it).
func sealedCap(n int) int { return crypto.SecretOverhead + n }

// getChunkBuf returns a buffer for chunks of up to chunkSizes[i] bytes,
// not cleared if it is a pooled one.
func getChunkBuf(i int) []byte {
	if i < len(chunkPools) {
		if b, ok := chunkPools[i].Get().(*[]byte); ok {
			return *b
		}
	}
	return make([]byte, sealedCap(chunkSizes[i]))
}

// ReleaseChunk gives back a chunk's whole buffer (nextWhole's) once
// nothing refers to it any more, to be reused for a later chunk of any
// Chunker. A buffer of another size is left to the collector.
func ReleaseChunk(b []byte) {
	if i := chunkClass(cap(b)); i >= 0 && i < len(chunkPools) {
		b = b[:cap(b)]
		chunkPools[i].Put(&b)
	}
}

// usable is how many bytes of chunk the chunker's buffer holds and
// can still seal in place: 0 for a buffer not of chunkSizes (a small
// input's).
func (c *Chunker) usable() int {
	if i := chunkClass(cap(c.whole)); i >= 0 {
		return chunkSizes[i]
	}
	return 0
}

// NewChunker returns a chunker over r with the gear table of secret.
func NewChunker(secret []byte, r io.Reader) *Chunker {
	return &Chunker{r: r, gear: gearTable(secret)}
}

// lener is an input that tells how many bytes it has left
// (bytes.Reader, strings.Reader, a file the sync opened with its size).
type lener interface{ Len() int }

// fill reads until the chunker holds want bytes or the input ends,
// growing its buffer if needed.
func (c *Chunker) fill(want int) error {
	if u := c.usable(); len(c.buf) < u {
		want = min(want, u) // this buffer is filled before a larger one is taken
	}
	if want > cap(c.buf) || (c.usable() > 0 && want > c.usable()) {
		var whole []byte
		if i := slices.IndexFunc(chunkSizes[:], func(n int) bool { return n >= want }); i >= 0 && cap(c.buf) >= MinChunk {
			whole = getChunkBuf(i)
		} else {
			whole = make([]byte, chunkRoom+max(want, min(2*cap(c.buf), MaxChunk)))
		}
		nb := whole[chunkRoom : chunkRoom+len(c.buf)]
		copy(nb, c.buf)
		ReleaseChunk(c.whole)
		c.buf, c.whole = nb, whole
	}
	for !c.eof && len(c.buf) < want {
		m, err := c.r.Read(c.buf[len(c.buf):want])
		c.buf = c.buf[:len(c.buf)+m]
		if errors.Is(err, io.EOF) {
			c.eof = true
		} else if err != nil {
			return err
		}
	}
	return nil
}

// Next returns the next chunk, or io.EOF. The chunk is the caller's:
// the chunker does not use its buffer again.
func (c *Chunker) Next() ([]byte, error) {
	chunk, _, err := c.nextWhole()
	return chunk, err
}

// nextWhole is Next, also returning the chunk's whole buffer: chunkRoom
// bytes, the chunk, then spare capacity, all the caller's.
func (c *Chunker) nextWhole() (chunk, whole []byte, err error) {
	var h uint64
	i, cut := MinChunk, 0
	for cut == 0 {
		if !c.eof {
			want := min(MaxChunk, len(c.buf)+readStep)
			if len(c.buf) < MinChunk { // small files read in doubling steps
				want = min(MinChunk, max(2*len(c.buf), 16<<10))
				if l, ok := c.r.(lener); ok {
					// A buffer of the input's size, plus one byte for
					// the read that finds its end: a file of 4 KiB
					// does not cost a cleared 16 KiB.
					want = min(MinChunk, len(c.buf)+max(l.Len(), 0)+1)
				}
			}
			if err := c.fill(want); err != nil {
				return nil, nil, err
			}
		}
		n := len(c.buf)
		if n == 0 {
			return nil, nil, io.EOF
		}
		if n <= MinChunk {
			if c.eof {
				cut = n
			}
			continue
		}
		end := min(n, MaxChunk)
		if normal := min(end, AvgChunk); i < normal {
			var at int
			at, h = scanGear(c.gear, c.buf[i:normal], h, maskSmall)
			if at >= 0 {
				cut = i + at + 1
			}
			i = normal
		}
		if cut == 0 && i < end {
			var at int
			at, h = scanGear(c.gear, c.buf[i:end], h, maskLarge)
			if at >= 0 {
				cut = i + at + 1
			}
			i = end
		}
		if cut == 0 && (end == MaxChunk || c.eof) {
			cut = end
		}
	}
	chunk, whole = c.buf[:cut], c.whole // whole's capacity tells ReleaseChunk whether it is a pooled buffer
	rest := c.buf[cut:]
	switch {
	case len(rest) == 0 && c.eof:
		c.buf, c.whole = nil, nil
	case cap(c.buf) >= MinChunk: // a large input: more large chunks follow
		c.whole = getChunkBuf(0)
		c.buf = c.whole[chunkRoom : chunkRoom+len(rest)]
		copy(c.buf, rest)
	default:
		c.whole = make([]byte, chunkRoom+len(rest))
		c.buf = c.whole[chunkRoom:]
		copy(c.buf, rest)
	}
	return chunk, whole, nil
}

// scanGear rolls the gear hash h over b and returns the index of the
// first byte after which h&mask is 0 (-1 if none) and h after the bytes
// scanned. It gives the hash byte by byte as h = h<<1 + gear[b], but four
// bytes at a time: h after four bytes is h<<4 plus a sum of their gears
// that does not depend on h, so the chain from one h to the next is one
// shift and one add per four bytes instead of per byte (issue 15: that
// chain bounded the scan, a tenth of the put's CPU).
func scanGear(gear *[256]uint64, b []byte, h, mask uint64) (int, uint64) {
	i := 0
	for ; i+4 <= len(b); i += 4 {
		q := b[i : i+4 : i+4]
		g0, g1, g2, g3 := gear[q[0]], gear[q[1]], gear[q[2]], gear[q[3]]
		t1 := g0<<1 + g1
		t2 := t1<<1 + g2
		t3 := t2<<1 + g3
		h0, h1, h2, h3 := h<<1+g0, h<<2+t1, h<<3+t2, h<<4+t3
		if (h0&mask == 0) || (h1&mask == 0) || (h2&mask == 0) || (h3&mask == 0) {
			switch {
			case h0&mask == 0:
				return i, h0
			case h1&mask == 0:
				return i + 1, h1
			case h2&mask == 0:
				return i + 2, h2
			}
			return i + 3, h3
		}
		h = h3
	}
	for ; i < len(b); i++ {
		h = h<<1 + gear[b[i]]
		if h&mask == 0 {
			return i, h
		}
	}
	return -1, h
}
