package workspace

import (
	"encoding/binary"
	"errors"
	"io"
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
	gear *[256]uint64
	r    io.Reader
	buf  []byte // the bytes read and not yet returned
	eof  bool
}

// readStep is how far the chunker reads past what it has scanned.
const readStep = 256 << 10

// bigBuf is the capacity of the buffers of large inputs, enough for most
// chunks (normalised chunking cuts soon after AvgChunk); they are reused
// through ReleaseChunk.
const bigBuf = 2 * AvgChunk

var bigBufs = sync.Pool{New: func() any { return new([bigBuf]byte) }}

// ReleaseChunk gives back a chunk's buffer once nothing refers to it any
// more, to be reused for a later chunk of any Chunker.
func ReleaseChunk(b []byte) {
	if cap(b) == bigBuf {
		bigBufs.Put((*[bigBuf]byte)(b[:bigBuf]))
	}
}

// NewChunker returns a chunker over r with the gear table of secret.
func NewChunker(secret []byte, r io.Reader) *Chunker {
	return &Chunker{r: r, gear: gearTable(secret)}
}

// fill reads until the chunker holds want bytes or the input ends,
// growing its buffer if needed.
func (c *Chunker) fill(want int) error {
	if want > cap(c.buf) {
		var nb []byte
		if want <= bigBuf && cap(c.buf) >= MinChunk {
			nb = bigBufs.Get().(*[bigBuf]byte)[:len(c.buf)]
		} else {
			nb = make([]byte, len(c.buf), max(want, min(2*cap(c.buf), MaxChunk)))
		}
		copy(nb, c.buf)
		ReleaseChunk(c.buf)
		c.buf = nb
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
	var h uint64
	i, cut := MinChunk, 0
	for cut == 0 {
		if !c.eof {
			want := min(MaxChunk, len(c.buf)+readStep)
			if len(c.buf) < MinChunk { // small files read in doubling steps
				want = min(MinChunk, max(2*len(c.buf), 16<<10))
			}
			if err := c.fill(want); err != nil {
				return nil, err
			}
		}
		n := len(c.buf)
		if n == 0 {
			return nil, io.EOF
		}
		if n <= MinChunk {
			if c.eof {
				cut = n
			}
			continue
		}
		end := min(n, MaxChunk)
		for normal := min(end, AvgChunk); i < normal; i++ {
			h = (h << 1) + c.gear[c.buf[i]]
			if h&maskSmall == 0 {
				cut = i + 1
				break
			}
		}
		for ; cut == 0 && i < end; i++ {
			h = (h << 1) + c.gear[c.buf[i]]
			if h&maskLarge == 0 {
				cut = i + 1
			}
		}
		if cut == 0 && (end == MaxChunk || c.eof) {
			cut = end
		}
	}
	chunk := c.buf[:cut] // its capacity tells ReleaseChunk whether it is a pooled buffer
	rest := c.buf[cut:]
	switch {
	case len(rest) == 0 && c.eof:
		c.buf = nil
	case cap(c.buf) >= MinChunk: // a large input: more large chunks follow
		c.buf = bigBufs.Get().(*[bigBuf]byte)[:len(rest)]
		copy(c.buf, rest)
	default:
		c.buf = append([]byte(nil), rest...)
	}
	return chunk, nil
}
