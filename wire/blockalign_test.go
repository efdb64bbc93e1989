package wire

import (
	"bytes"
	"testing"
	"unsafe"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// A received block starts at a page boundary (for the block store's
// direct I/O), whatever the fields before it and however gRPC cut the
// message into frames, and decodes to the bytes sent.
func TestBlockCodecAlignsBlock(t *testing.T) {
	c := NewBlockCodec()
	data := crypto.RandomBytes(1<<20 + 300)
	digest := crypto.Sum(data)
	for _, msg := range []*coffrev1.PutBlockRequest{
		{VaultId: "vaultaaa", BlockId: "blockbbb", Data: data, DataDigest: digest[:]},
		{VaultId: "v", BlockId: "blockbbbblockbbbblockbbb", Data: data},
		{Data: data},
	} {
		out, err := c.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		for _, frame := range []int{16 << 10, 7, 1} {
			got := &coffrev1.PutBlockRequest{}
			if err := c.Unmarshal(framed(out.Materialize(), frame), got); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, msg) || !bytes.Equal(got.Data, data) {
				t.Fatalf("frames of %d bytes: the codec gives another message", frame)
			}
			if at := uintptr(unsafe.Pointer(&got.Data[0])) % blockAlign; at != 0 {
				t.Errorf("frames of %d bytes, %d bytes before the block: it starts %d bytes past a page boundary", frame, out.Len()-len(data), at)
			}
		}
	}
}

// A codec with a receive pool lends each block until Release, and forgets
// it then, reused or not: nothing stays lent.
func TestReceivePoolLendsUntilRelease(t *testing.T) {
	pool := &ReceivePool{}
	c := NewBlockCodec().WithReceivePool(pool)
	lent := func() int {
		n := 0
		pool.lent.Range(func(any, any) bool { n++; return true })
		return n
	}
	for _, reuse := range []bool{false, true, true} {
		data := crypto.RandomBytes(1 << 20)
		out, err := c.Marshal(&coffrev1.PutBlockRequest{VaultId: "vaultaaa", BlockId: "blockbbb", Data: data})
		if err != nil {
			t.Fatal(err)
		}
		got := &coffrev1.PutBlockRequest{}
		if err := c.Unmarshal(framed(out.Materialize(), 16<<10), got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Data, data) || lent() != 1 {
			t.Fatalf("reuse %v: the block decodes to other bytes (%v), or %d blocks are lent, want 1", reuse, !bytes.Equal(got.Data, data), lent())
		}
		pool.Release(got.Data, reuse)
		if n := lent(); n != 0 {
			t.Fatalf("reuse %v: %d blocks still lent after Release", reuse, n)
		}
	}
}

// Buffers of every size up to the largest message come and go through the
// pool's classes.
func TestReceivePoolSizes(t *testing.T) {
	pool := &ReceivePool{}
	for _, n := range []int{1, 64<<10 - 1, 64 << 10, 64<<10 + 1, 1<<20 + blockAlign + 100, 16 << 20, 16<<20 + blockAlign, 16<<20 + blockAlign + 1} {
		b := pool.get(n)
		if len(b) != n {
			t.Fatalf("get(%d) returned %d bytes", n, len(b))
		}
		pool.put(b)
	}
}
