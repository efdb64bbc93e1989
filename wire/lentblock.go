package wire

import (
	"unsafe"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// NewBufferPool returns a pool of buffers that, like Buffers, does not
// clear what it hands out.
func NewBufferPool() mem.BufferPool { return &dirtyPool{} }

// LentBlock is what a server returns to gRPC instead of a
// GetBlockResponse whose block is in a buffer of Pool: BlockCodec sends
// Response as it sends any GetBlockResponse, and gives Buf back to Pool
// once gRPC is done writing it (it frees the message's buffers after the
// write, mem.Buffer's reference count). Only the code that read the block
// into Buf may make one, after the last hand that could keep Response or
// its block (an interceptor) has given it back unchanged: Buf is reused
// once the answer is sent.
type LentBlock struct {
	Response *coffrev1.GetBlockResponse // Response.Data is the first bytes of *Buf
	Buf      *[]byte
	Pool     mem.BufferPool
}

// marshal is BlockCodec.Marshal of l.Response. A large block is sent
// from Buf itself, which gRPC gives back to Pool once written; a small
// one is copied, and Buf given back at once. A block that is not at the
// start of Buf (not the buffer it was read into) is sent as any other,
// and Buf not reused.
func (l *LentBlock) marshal(c BlockCodec) (mem.BufferSlice, error) {
	data := l.Response.GetData()
	if !l.owns(data) {
		return c.CodecV2.Marshal(l.Response)
	}
	if len(data) < blockCodecMin {
		out, err := c.CodecV2.Marshal(l.Response)
		l.Pool.Put(l.Buf)
		return out, err
	}
	head := protowire.AppendTag(nil, dataFieldNumber, protowire.BytesType)
	head = protowire.AppendVarint(head, uint64(len(data)))
	*l.Buf = (*l.Buf)[:len(data)]
	return mem.BufferSlice{mem.SliceBuffer(head), mem.NewBuffer(l.Buf, l.Pool)}, nil
}

// owns reports whether data is the start of Buf, and the response the
// block alone (GetBlockResponse has no other field; an unknown one set by
// hand would be dropped).
func (l *LentBlock) owns(data []byte) bool {
	return l.Buf != nil && l.Pool != nil && len(data) > 0 && len(data) <= cap(*l.Buf) &&
		unsafe.SliceData(data) == unsafe.SliceData(*l.Buf) &&
		len(l.Response.ProtoReflect().GetUnknown()) == 0
}

// dataFieldNumber is GetBlockResponse's data field, its only one.
var dataFieldNumber = (&coffrev1.GetBlockResponse{}).ProtoReflect().Descriptor().Fields().ByName(dataField).Number()
