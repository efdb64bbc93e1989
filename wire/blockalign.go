package wire

import (
	"sync"
	"unsafe"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// blockAlign is where a received block starts in its buffer: at a page
// boundary, so that a block store may write it with direct I/O (the
// embedded store's blockdir does, around the page cache).
const blockAlign = 4096

// blockPeek is how much of a message is looked at for the block's field:
// the fields the client's codec sends before it are a few ids and a
// digest.
const blockPeek = 512

// materializeAligned copies data into one buffer (new, or from pool if
// not nil), placed so that the value of field num, if it starts within
// the first blockPeek bytes, starts at a multiple of blockAlign. It
// returns the message and its whole buffer.
func materializeAligned(data mem.BufferSlice, num protowire.Number, pool *ReceivePool) (msg, whole []byte) {
	var peek [blockPeek]byte
	head := peek[:0]
	for _, b := range data {
		if len(head) == cap(head) {
			break
		}
		head = append(head, b.ReadOnlyData()[:min(b.Len(), cap(head)-len(head))]...)
	}
	at := blockOffset(head, num)
	buf := pool.get(data.Len() + blockAlign)
	shift := (blockAlign - (uintptr(unsafe.Pointer(unsafe.SliceData(buf)))+uintptr(at))%blockAlign) % blockAlign
	b := buf[shift : int(shift)+data.Len()]
	data.CopyTo(b)
	return b, buf
}

// ReceivePool reuses the buffers a BlockCodec receives blocks into, for a
// server whose block store is done with a block when it returns: each
// buffer comes back through Release, called once the call that received
// it is over. Its buffers are not cleared (the copy of the next message
// writes over them), which a new buffer of a MiB costs the server each
// time (issue 15); its classes are the client's Buffers' (dirtyPool).
type ReceivePool struct {
	buffers dirtyPool
	lent    sync.Map // the first byte of a block lent → its whole buffer
}

// get returns a buffer of n bytes (nil pool: a new one).
func (p *ReceivePool) get(n int) []byte {
	if p == nil {
		return make([]byte, n)
	}
	return *p.buffers.Get(n)
}

// lend records that block, in whole, is given to a call (nil pool:
// nothing).
func (p *ReceivePool) lend(block, whole []byte) {
	if p != nil && len(block) > 0 {
		p.lent.Store(&block[0], whole)
	}
}

// put gives a buffer back (nil pool: nothing).
func (p *ReceivePool) put(whole []byte) {
	if p != nil {
		whole = whole[:cap(whole)]
		p.buffers.Put(&whole)
	}
}

// Release ends the loan of a block a BlockCodec with this pool received
// (the data field of the call's request; anything else is ignored): its
// buffer is reused if reuse is true, else left to the collector. Nothing
// may refer to the block afterwards when reuse is true.
func (p *ReceivePool) Release(block []byte, reuse bool) {
	if len(block) == 0 {
		return
	}
	whole, ok := p.lent.LoadAndDelete(&block[0])
	if ok && reuse {
		p.put(whole.([]byte))
	}
}

// blockOffset returns where the value of the first field num of bytes
// type starts in b, a message's beginning, or 0 if it is not there.
func blockOffset(b []byte, num protowire.Number) int {
	for i := 0; i < len(b); {
		n, typ, tn := protowire.ConsumeTag(b[i:])
		if tn < 0 {
			return 0
		}
		if n == num && typ == protowire.BytesType {
			_, ln := protowire.ConsumeVarint(b[i+tn:])
			if ln < 0 {
				return 0
			}
			return i + tn + ln
		}
		vn := protowire.ConsumeFieldValue(n, typ, b[i+tn:])
		if vn < 0 {
			return 0
		}
		i += tn + vn
	}
	return 0
}
