package wire

import (
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

// materializeAligned copies data into one new buffer, placed so that the
// value of field num, if it starts within the first blockPeek bytes,
// starts at a multiple of blockAlign.
func materializeAligned(data mem.BufferSlice, num protowire.Number) []byte {
	var peek [blockPeek]byte
	head := peek[:0]
	for _, b := range data {
		if len(head) == cap(head) {
			break
		}
		head = append(head, b.ReadOnlyData()[:min(b.Len(), cap(head)-len(head))]...)
	}
	at := blockOffset(head, num)
	buf := make([]byte, data.Len()+blockAlign)
	shift := (blockAlign - (uintptr(unsafe.Pointer(unsafe.SliceData(buf)))+uintptr(at))%blockAlign) % blockAlign
	b := buf[shift : int(shift)+data.Len()]
	data.CopyTo(b)
	return b
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
