package client

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// A PutBlock request sent without copying its block decodes, on the
// server's side, to the request sent: every field, the block's bytes
// exactly, and the block's bytes are the caller's, not a copy.
func TestBlockCodecSendsTheRequest(t *testing.T) {
	c := newBlockCodec()
	for _, size := range []int{100, blockCodecMin, 1 << 20} {
		data := crypto.RandomBytes(size)
		digest := crypto.Sum(data)
		req := &coffrev1.PutBlockRequest{VaultId: "vaultaaa", BlockId: "blockbbb", Data: data, DataDigest: digest[:]}
		out, err := c.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		got := &coffrev1.PutBlockRequest{}
		if err := proto.Unmarshal(out.Materialize(), got); err != nil {
			t.Fatalf("%d bytes: the request sent does not decode: %v", size, err)
		}
		if !proto.Equal(got, req) {
			t.Fatalf("%d bytes: sent %v, decoded %v", size, req.ProtoReflect(), got.ProtoReflect())
		}
		if size >= blockCodecMin {
			last := out[len(out)-1].ReadOnlyData()
			if !bytes.Equal(last, data) || &last[0] != &data[0] {
				t.Errorf("%d bytes: the block was copied, not sent from the caller's buffer", size)
			}
		}
	}
}
