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

// Chunker cuts a stream into content-defined chunks.
type Chunker struct {
	gear [256]uint64
	r    io.Reader
	buf  []byte
	n    int // valid bytes in buf
	eof  bool
}

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

// NewChunker returns a chunker over r with the gear table of secret.
func NewChunker(secret []byte, r io.Reader) *Chunker {
	return &Chunker{r: r, gear: *gearTable(secret), buf: make([]byte, MaxChunk)}
}

// Next returns the next chunk, valid until the following call, or io.EOF.
func (c *Chunker) Next() ([]byte, error) {
	for !c.eof && c.n < len(c.buf) {
		m, err := c.r.Read(c.buf[c.n:])
		c.n += m
		if errors.Is(err, io.EOF) {
			c.eof = true
		} else if err != nil {
			return nil, err
		}
	}
	if c.n == 0 {
		return nil, io.EOF
	}
	cut := c.boundary(c.buf[:c.n])
	chunk := make([]byte, cut)
	copy(chunk, c.buf[:cut])
	copy(c.buf, c.buf[cut:c.n])
	c.n -= cut
	return chunk, nil
}

// boundary returns where the first chunk of b ends.
func (c *Chunker) boundary(b []byte) int {
	if len(b) <= MinChunk {
		return len(b)
	}
	n := min(len(b), MaxChunk)
	normal := min(n, AvgChunk)
	var h uint64
	i := MinChunk
	for ; i < normal; i++ {
		h = (h << 1) + c.gear[b[i]]
		if h&maskSmall == 0 {
			return i + 1
		}
	}
	for ; i < n; i++ {
		h = (h << 1) + c.gear[b[i]]
		if h&maskLarge == 0 {
			return i + 1
		}
	}
	return n
}
