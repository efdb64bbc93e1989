package wire

import (
	"bytes"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// countingPool counts the buffers given back to it.
type countingPool struct {
	mem.BufferPool
	put []*[]byte
}

func (p *countingPool) Put(b *[]byte) { p.put = append(p.put, b); p.BufferPool.Put(b) }

// TestLentBlockGivenBackOnceWritten: BlockCodec sends a LentBlock as the
// GetBlockResponse it holds, and gives its buffer back to the pool only
// when gRPC frees what Marshal returned (after writing it), not before; a
// small block is copied and its buffer given back at once; a block that
// is not at the start of the buffer is sent, and the buffer never given
// back.
func TestLentBlockGivenBackOnceWritten(t *testing.T) {
	codec := NewBlockCodec()
	for _, size := range []int{blockCodecMin, 1<<20 + 17} {
		pool := &countingPool{BufferPool: NewBufferPool()}
		buf := pool.Get(size + 100) // the buffer may be larger than the block
		copy(*buf, crypto.RandomBytes(size))
		resp := &coffrev1.GetBlockResponse{Data: (*buf)[:size]}
		want, _ := proto.Marshal(resp)
		out, err := codec.Marshal(&LentBlock{Response: resp, Buf: buf, Pool: pool})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Materialize(), want) {
			t.Fatalf("%d bytes: the lent block is not sent as its GetBlockResponse", size)
		}
		if len(pool.put) != 0 {
			t.Fatalf("%d bytes: the buffer was given back before gRPC wrote the answer", size)
		}
		out.Free()
		if len(pool.put) != 1 || &(*pool.put[0])[:1][0] != &(*buf)[:1][0] {
			t.Fatalf("%d bytes: %d buffers given back once written, want the block's", size, len(pool.put))
		}
	}

	pool := &countingPool{BufferPool: NewBufferPool()}
	buf := pool.Get(4096)
	out, err := codec.Marshal(&LentBlock{Response: &coffrev1.GetBlockResponse{Data: (*buf)[:100]}, Buf: buf, Pool: pool})
	if err != nil || out.Len() != 102 || len(pool.put) != 1 {
		t.Fatalf("a small block: %d bytes sent, %d buffers given back (%v), want 102 and 1 at once", out.Len(), len(pool.put), err)
	}

	pool = &countingPool{BufferPool: NewBufferPool()}
	buf = pool.Get(1 << 20)
	resp := &coffrev1.GetBlockResponse{Data: (*buf)[1:]} // not where the block was read
	want, _ := proto.Marshal(resp)
	out, err = codec.Marshal(&LentBlock{Response: resp, Buf: buf, Pool: pool})
	if err != nil || !bytes.Equal(out.Materialize(), want) {
		t.Fatalf("a block not at the buffer's start is not sent as it is (%v)", err)
	}
	out.Free()
	if len(pool.put) != 0 {
		t.Fatalf("the buffer of a block not at its start was given back")
	}
}
