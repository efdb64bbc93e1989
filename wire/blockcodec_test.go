package wire

import (
	"bytes"
	"slices"
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
		decodesAsProto(t, name, in, &coffrev1.PutBlockRequest{})
	}
}

// decodesAsProto checks that the codec decodes in into a message of m's
// type as proto.Unmarshal does, or refuses it as proto.Unmarshal does.
func decodesAsProto(t *testing.T, name string, in []byte, m proto.Message) {
	t.Helper()
	want := m.ProtoReflect().New().Interface()
	wantErr := proto.Unmarshal(in, want)
	got := m.ProtoReflect().New().Interface()
	err := NewBlockCodec().Unmarshal(framed(in, 16<<10), got)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%s: codec error %v, proto.Unmarshal's %v", name, err, wantErr)
	}
	if err == nil && (!proto.Equal(got, want) || !bytes.Equal(got.ProtoReflect().GetUnknown(), want.ProtoReflect().GetUnknown())) {
		t.Fatalf("%s: the codec gives another message than proto.Unmarshal (unknown fields %q, %q)", name,
			got.ProtoReflect().GetUnknown(), want.ProtoReflect().GetUnknown())
	}
}

// A GetBlockResponse that is its block alone, as a server sends it, is
// received into a buffer of Buffers that starts with the block, which
// ReuseBlock gives back for a later block; the codec decodes any other one
// as proto.Unmarshal does (a block's field followed or preceded by
// another, twice, its length longer or shorter than the message, written
// in more bytes than it needs).
func TestBlockCodecReceivesBlockIntoBuffers(t *testing.T) {
	alone := func(b byte, size int) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), bytes.Repeat([]byte{b}, size))
	}
	size := 1<<20 + 42
	first, second := alone(1, size), alone(2, size)
	got := &coffrev1.GetBlockResponse{}
	if err := NewBlockCodec().Unmarshal(framed(first, 16<<10), got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Data, first[len(first)-size:]) || cap(got.Data) != 2<<20 {
		t.Fatalf("received %d bytes in a buffer of %d, want the block in a buffer of Buffers (%d)", len(got.Data), cap(got.Data), 2<<20)
	}
	// sync.Pool may drop what it is given (it does at random under the
	// race detector): a few tries.
	reused := false
	for range 50 {
		was := &got.Data[0]
		ReuseBlock(got.Data)
		got = &coffrev1.GetBlockResponse{}
		if err := NewBlockCodec().Unmarshal(framed(second, 16<<10), got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Data, second[len(second)-size:]) {
			t.Fatal("the block received in a buffer given back is not the one sent")
		}
		if reused = &got.Data[0] == was; reused {
			break
		}
	}
	if !reused {
		t.Error("a buffer given back was never used for a later block")
	}

	longVarint := append(protowire.AppendTag(nil, 1, protowire.BytesType), 0x80|byte(size&0x7f), 0x80|byte(size>>7&0x7f), 0x80|byte(size>>14), 0)
	longVarint = append(longVarint, bytes.Repeat([]byte{3}, size)...)
	for name, in := range map[string][]byte{
		"alone":           first,
		"then another":    protowire.AppendBytes(protowire.AppendTag(slices.Clone(first), 7, protowire.BytesType), []byte("x")),
		"after another":   append(protowire.AppendBytes(protowire.AppendTag(nil, 7, protowire.BytesType), []byte("x")), first...),
		"twice":           append(alone(4, blockCodecMin), first...),
		"longer":          first[:len(first)-1],
		"shorter":         append(slices.Clone(first), 0),
		"varint too long": longVarint,
	} {
		decodesAsProto(t, name, in, &coffrev1.GetBlockResponse{})
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
