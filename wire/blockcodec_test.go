package wire

import (
	"bytes"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// A message with a block, sent without copying the block, decodes to the
// message sent, whether the receiver uses BlockCodec or plain
// proto.Unmarshal: every field, the block's bytes exactly; the block's
// bytes sent are the caller's, not a copy, and those received point into
// the codec's own buffer, not gRPC's frames.
func TestBlockCodecRoundTrip(t *testing.T) {
	c := NewBlockCodec()
	for _, size := range []int{100, blockCodecMin - 10, blockCodecMin, 1 << 20} {
		data := crypto.RandomBytes(size)
		digest := crypto.Sum(data)
		for _, msg := range []proto.Message{
			&coffrev1.PutBlockRequest{VaultId: "vaultaaa", BlockId: "blockbbb", Data: data, DataDigest: digest[:]},
			&coffrev1.GetBlockResponse{Data: data},
		} {
			out, err := c.Marshal(msg)
			if err != nil {
				t.Fatal(err)
			}
			plain := msg.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(out.Materialize(), plain); err != nil {
				t.Fatalf("%d bytes: the message sent does not decode: %v", size, err)
			}
			if !proto.Equal(plain, msg) {
				t.Fatalf("%d bytes: sent %v, proto.Unmarshal gives %v", size, msg.ProtoReflect(), plain.ProtoReflect())
			}
			if size >= blockCodecMin {
				last := out[len(out)-1].ReadOnlyData()
				if !bytes.Equal(last, data) || &last[0] != &data[0] {
					t.Errorf("%d bytes: the block was copied, not sent from the caller's buffer", size)
				}
			}
			// Received as gRPC gives it: in frames of 16 KiB.
			frames := framed(out.Materialize(), 16<<10)
			got := msg.ProtoReflect().New().Interface()
			if err := c.Unmarshal(frames, got); err != nil {
				t.Fatalf("%d bytes: %v", size, err)
			}
			if !proto.Equal(got, msg) {
				t.Fatalf("%d bytes: sent %v, the codec gives %v", size, msg.ProtoReflect(), got.ProtoReflect())
			}
			gotData := got.ProtoReflect().Get(got.ProtoReflect().Descriptor().Fields().ByName("data")).Bytes()
			for _, f := range frames {
				if fd := f.ReadOnlyData(); &fd[0] == &gotData[0] {
					t.Errorf("%d bytes: the block received points into gRPC's frame", size)
				}
			}
		}
	}
}

// The codec decodes what proto.Unmarshal decodes, as proto.Unmarshal does,
// in the cases a sender could craft: the block's field twice (the last
// wins), fields after it, unknown fields (kept: the signature covers
// them), the block's field number with another wire type (an unknown
// field), and malformed input (refused).
func TestBlockCodecDecodesAsProto(t *testing.T) {
	big := func(b byte) []byte { return bytes.Repeat([]byte{b}, blockCodecMin) }
	var dataNum protowire.Number = 3
	field := func(b []byte, num protowire.Number, v []byte) []byte {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		return protowire.AppendBytes(b, v)
	}
	twice := field(field(field(nil, 1, []byte("vaultaaa")), dataNum, big(1)), dataNum, big(2))
	after := field(field(nil, dataNum, big(3)), 2, []byte("blockbbb"))
	unknown := field(field(field(nil, 99, []byte("unknown")), dataNum, big(4)), 98, []byte("also"))
	wrongType := protowire.AppendVarint(protowire.AppendTag(field(nil, dataNum, big(5)), dataNum, protowire.VarintType), 7)
	truncated := field(nil, dataNum, big(6))[:blockCodecMin]
	badUTF8 := field(field(nil, 1, []byte{0xff, 0xfe}), dataNum, big(7))
	for name, in := range map[string][]byte{"twice": twice, "after": after, "unknown": unknown, "wrong type": wrongType, "truncated": truncated, "bad utf-8": badUTF8} {
		want := &coffrev1.PutBlockRequest{}
		wantErr := proto.Unmarshal(in, want)
		got := &coffrev1.PutBlockRequest{}
		err := NewBlockCodec().Unmarshal(framed(in, 16<<10), got)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%s: codec error %v, proto.Unmarshal's %v", name, err, wantErr)
		}
		if err != nil {
			continue
		}
		if !proto.Equal(got, want) || !bytes.Equal(got.ProtoReflect().GetUnknown(), want.ProtoReflect().GetUnknown()) {
			t.Fatalf("%s: the codec gives %v, proto.Unmarshal %v", name, got.ProtoReflect(), want.ProtoReflect())
		}
	}
}

// framed cuts b into gRPC buffers of n bytes.
func framed(b []byte, n int) mem.BufferSlice {
	var out mem.BufferSlice
	for len(b) > 0 {
		k := min(n, len(b))
		out = append(out, mem.SliceBuffer(bytes.Clone(b[:k])))
		b = b[k:]
	}
	return out
}
