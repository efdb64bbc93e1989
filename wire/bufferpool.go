package wire

import (
	"math/bits"
	"sync"

	"google.golang.org/grpc/mem"
)

// Buffers is the client's pool of byte buffers: gRPC's frames and
// messages (grpc's experimental.WithBufferPool) and the blocks that
// BlockCodec receives, which a caller done with them gives back with
// ReuseBlock. Unlike gRPC's default pool it does not clear a buffer it
// hands out (issue 15: clearing the 16 KiB frames and each received block
// was 0.35 s of a 1 GiB get's client CPU): every user writes a buffer
// before reading it, gRPC's readers and codecs included.
var Buffers mem.BufferPool = &dirtyPool{}

// dirtyPool keeps buffers by size class: powers of two from
// 1<<dirtyPoolMin to 1<<dirtyPoolMax. Get rounds up to a class, Put
// rounds a buffer's capacity down to one; smaller and larger buffers are
// not kept.
type dirtyPool struct {
	classes [dirtyPoolMax - dirtyPoolMin + 1]sync.Pool
}

const (
	dirtyPoolMin = 8  // 256 bytes: gRPC pools nothing smaller
	dirtyPoolMax = 23 // 8 MiB: a message of the largest block (4 MiB) and more
)

func (p *dirtyPool) Get(length int) *[]byte {
	c := bits.Len(uint(length - 1)) // the class whose buffers hold length: ⌈log₂ length⌉
	if length <= 1 {
		c = 0
	}
	c = max(c, dirtyPoolMin)
	if c > dirtyPoolMax {
		b := make([]byte, length)
		return &b
	}
	if b, ok := p.classes[c-dirtyPoolMin].Get().(*[]byte); ok {
		*b = (*b)[:length]
		return b
	}
	b := make([]byte, length, 1<<c)
	return &b
}

func (p *dirtyPool) Put(b *[]byte) {
	c := bits.Len(uint(cap(*b))) - 1 // ⌊log₂ cap⌋: every buffer of the class is at least that
	if c < dirtyPoolMin || c > dirtyPoolMax {
		return
	}
	p.classes[c-dirtyPoolMin].Put(b)
}

// ReuseBlock gives b back to Buffers. b must be the caller's own, every
// byte up to its capacity (what a Blocks' GetBlock returns, for one: the
// block of a message BlockCodec received, or a copy made for the caller),
// and not used again.
func ReuseBlock(b []byte) {
	b = b[:cap(b)]
	Buffers.Put(&b)
}
