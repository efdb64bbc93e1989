package client

import (
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// blockCodec is gRPC's proto codec, except that a PutBlock request with a
// large block is sent as its other fields followed by the block's field
// pointing at the caller's own bytes, instead of the whole request copied
// into one buffer first (issue 15: that copy was a seventh of the put's
// CPU). A protobuf message's fields may come in any order, so the server
// decodes it as it decodes any other. The caller's bytes must stay as they
// are until the call answered, which a unary call's caller does.
type blockCodec struct{ encoding.CodecV2 }

func newBlockCodec() blockCodec { return blockCodec{encoding.GetCodecV2("proto")} }

// blockCodecMin is the smallest block sent without the copy: below it the
// copy costs less than a second buffer in the frame.
const blockCodecMin = 64 << 10

// dataField is PutBlockRequest's field number for the block's bytes.
var dataField = protowire.Number((&coffrev1.PutBlockRequest{}).ProtoReflect().Descriptor().Fields().ByName("data").Number())

func (c blockCodec) Marshal(v any) (mem.BufferSlice, error) {
	req, ok := v.(*coffrev1.PutBlockRequest)
	if !ok || len(req.GetData()) < blockCodecMin {
		return c.CodecV2.Marshal(v)
	}
	// Every field but the block's, whatever fields the request has.
	m := req.ProtoReflect()
	rest := m.New()
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Number() != dataField {
			rest.Set(fd, v)
		}
		return true
	})
	head, err := proto.Marshal(rest.Interface())
	if err != nil {
		return nil, err
	}
	head = protowire.AppendTag(head, dataField, protowire.BytesType)
	head = protowire.AppendVarint(head, uint64(len(req.GetData())))
	return mem.BufferSlice{mem.SliceBuffer(head), mem.SliceBuffer(req.GetData())}, nil
}
