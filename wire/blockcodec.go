package wire

import (
	"encoding/binary"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// BlockCodec is gRPC's proto codec, except for the messages that carry one
// block in a top-level bytes field named data (PutBlockRequest,
// GetBlockResponse), client and server alike (issue 15: each copy of a
// block was a tenth of the put's or the get's CPU):
//
//   - a large block is sent as the message's other fields followed by the
//     block's field pointing at the caller's own bytes, instead of the whole
//     message copied into one buffer first. A protobuf message's fields may
//     come in any order, so any decoder reads it as it reads any other. The
//     caller's bytes must stay as they are until the message is written,
//     which a unary call's caller and a handler's return do.
//   - a received message is copied once out of gRPC's frames into a buffer
//     of its own (the block at a page boundary: blockalign.go), and the
//     block's field points into that buffer, instead of a copy into a
//     pooled buffer then another into the field. Every other
//     field is decoded by proto.Unmarshal, unknown ones kept, and the last
//     data field wins as it does there: the message is the one
//     proto.Unmarshal would give (the signature covers it, SPEC.md §6.1).
//     A GetBlockResponse that is its block alone, as servers send it, is
//     copied into a buffer of Buffers instead, which the caller may give
//     back once done with the block (ReuseBlock).
//   - a LentBlock (a server's GetBlockResponse whose block is in a buffer
//     of its pool) is sent as its GetBlockResponse, the buffer given back
//     to the pool once gRPC has written it.
type BlockCodec struct {
	encoding.CodecV2
	pool *ReceivePool // nil: a new buffer per message received
}

// NewBlockCodec returns the codec, gRPC's proto codec for other messages.
func NewBlockCodec() BlockCodec { return BlockCodec{CodecV2: encoding.GetCodecV2("proto")} }

// WithReceivePool returns the codec receiving blocks into buffers of
// pool, each lent until pool.Release.
func (c BlockCodec) WithReceivePool(pool *ReceivePool) BlockCodec {
	c.pool = pool
	return c
}

// blockCodecMin is the smallest block sent without the copy: below it the
// copy costs less than a second buffer in the frame.
const blockCodecMin = 64 << 10

// blockField returns m's field for a block, a singular bytes field named
// data, or nil.
func blockField(m protoreflect.Message) protoreflect.FieldDescriptor {
	fd := m.Descriptor().Fields().ByName(dataField)
	if fd == nil || fd.Kind() != protoreflect.BytesKind || fd.IsList() || fd.ContainingOneof() != nil {
		return nil
	}
	return fd
}

func (c BlockCodec) Marshal(v any) (mem.BufferSlice, error) {
	if l, ok := v.(*LentBlock); ok {
		return l.marshal(c)
	}
	msg, ok := v.(proto.Message)
	if !ok {
		return c.CodecV2.Marshal(v)
	}
	m := msg.ProtoReflect()
	fd := blockField(m)
	if fd == nil || len(m.Get(fd).Bytes()) < blockCodecMin {
		return c.CodecV2.Marshal(v)
	}
	data := m.Get(fd).Bytes()
	head, err := proto.Marshal(copyWithout(m, fd).Interface())
	if err != nil {
		return nil, err
	}
	head = protowire.AppendTag(head, fd.Number(), protowire.BytesType)
	head = protowire.AppendVarint(head, uint64(len(data)))
	return mem.BufferSlice{mem.SliceBuffer(head), mem.SliceBuffer(data)}, nil
}

func (c BlockCodec) Unmarshal(data mem.BufferSlice, v any) error {
	msg, ok := v.(proto.Message)
	if !ok || data.Len() < blockCodecMin {
		return c.CodecV2.Unmarshal(data, v)
	}
	m := msg.ProtoReflect()
	fd := blockField(m)
	if fd == nil {
		return c.CodecV2.Unmarshal(data, v)
	}
	if r, ok := msg.(*coffrev1.GetBlockResponse); ok {
		if block := receiveBlock(data, fd.Number()); block != nil {
			// Set directly: a protoreflect.Value drops the capacity that
			// ReuseBlock gives back.
			proto.Reset(r)
			r.Data = block
			return nil
		}
	}
	b, whole := materializeAligned(data, fd.Number(), c.pool)
	if err := unmarshalBlock(b, m, fd); err != nil {
		c.pool.put(whole)
		return err
	}
	if block := m.Get(fd).Bytes(); len(block) > 0 {
		c.pool.lend(block, whole)
	} else {
		c.pool.put(whole) // every field was copied out of it
	}
	return nil
}

// receiveBlock returns the block of a message that is the block's field
// alone (a GetBlockResponse as a server sends it), copied out of data into
// a buffer of Buffers that starts with the block and is not cleared first,
// so that the caller can give it back whole (ReuseBlock); or nil for any
// other message. The message is the one proto.Unmarshal gives: that field
// and nothing else.
func receiveBlock(data mem.BufferSlice, num protowire.Number) []byte {
	var head [binary.MaxVarintLen64 + 1]byte // the field's tag (one byte) and length
	n := 0
	for _, b := range data {
		n += copy(head[n:], b.ReadOnlyData())
		if n == len(head) {
			break
		}
	}
	gotNum, typ, tn := protowire.ConsumeTag(head[:n])
	if tn != 1 || gotNum != num || typ != protowire.BytesType {
		return nil
	}
	size, ln := protowire.ConsumeVarint(head[tn:n])
	if ln < 0 || uint64(data.Len()-tn-ln) != size {
		return nil
	}
	block := *Buffers.Get(int(size))
	skip, at := tn+ln, 0
	for _, b := range data {
		d := b.ReadOnlyData()
		if skip >= len(d) {
			skip -= len(d)
			continue
		}
		at += copy(block[at:], d[skip:])
		skip = 0
	}
	return block
}

// unmarshalBlock decodes b into m, m's block field pointing into b: b is
// the caller's and not used again. Malformed input is left to
// proto.Unmarshal, which refuses it.
func unmarshalBlock(b []byte, m protoreflect.Message, fd protoreflect.FieldDescriptor) error {
	var (
		block []byte
		found bool
		rest  []byte // b without the block's fields, once one is found
	)
	for i := 0; i < len(b); {
		num, typ, n := protowire.ConsumeField(b[i:])
		if n < 0 {
			return proto.Unmarshal(b, m.Interface())
		}
		field := b[i : i+n]
		if num == fd.Number() && typ == protowire.BytesType {
			if !found {
				rest = append(make([]byte, 0, i), b[:i]...)
				found = true
			}
			_, _, tn := protowire.ConsumeTag(field)
			block, _ = protowire.ConsumeBytes(field[tn:])
		} else if found {
			rest = append(rest, field...)
		}
		i += n
	}
	if !found {
		return proto.Unmarshal(b, m.Interface())
	}
	if err := proto.Unmarshal(rest, m.Interface()); err != nil {
		return err
	}
	m.Set(fd, protoreflect.ValueOfBytes(block))
	return nil
}
