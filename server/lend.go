package server

import (
	"context"
	"unsafe"

	"google.golang.org/grpc"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/wire"
)

// borrowing returns blocks as a store.BlockBorrowing, or nil.
func borrowing(blocks store.BlockStore) store.BlockBorrowing {
	b, _ := blocks.(store.BlockBorrowing)
	return b
}

// blockLoan is where GetBlock leaves the answer whose block is in a
// buffer of the server's sent pool, for lendBlock.
type blockLoan struct {
	resp *coffrev1.GetBlockResponse
	data []byte  // resp.Data as GetBlock set it
	buf  *[]byte // the pool's buffer data starts
}

type blockLoanKey struct{}

// readBlock is GetBlock's read of a block, checked already: into a buffer
// of s.sent when the store can and lendBlock is there to give it back
// (issue 15: a new buffer per block cost the server its clearing and its
// return to the system, 0.1 to 0.3 s per GiB of a cold get).
func (s *Server) readBlock(ctx context.Context, orgID, vaultID, blockID string) (*coffrev1.GetBlockResponse, error) {
	loan, _ := ctx.Value(blockLoanKey{}).(*blockLoan)
	if s.borrow == nil || loan == nil {
		data, err := s.cfg.Blocks.GetBlock(ctx, orgID, vaultID, blockID)
		if err != nil {
			return nil, err
		}
		return &coffrev1.GetBlockResponse{Data: data}, nil
	}
	data, buf, err := s.borrow.GetBlockInto(ctx, orgID, vaultID, blockID, s.sent.Get)
	if err != nil {
		if buf != nil {
			s.sent.Put(buf)
		}
		return nil, err
	}
	resp := &coffrev1.GetBlockResponse{Data: data}
	if buf != nil {
		*loan = blockLoan{resp: resp, data: data, buf: buf}
	}
	return resp, nil
}

// lendBlock, outside every other interceptor, hands gRPC a GetBlock's
// answer as a wire.LentBlock, whose buffer the codec gives back to the
// pool once the answer is written; but only if the answer that came back
// through every interceptor is the handler's own message with its block
// as the handler set it. Any other answer (a test server's interceptor
// that rewrote it) is sent as it is, and the buffer is left to the
// collector: whatever replaced the block may point into it, or be kept.
func (s *Server) lendBlock(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if _, ok := req.(*coffrev1.GetBlockRequest); !ok || s.borrow == nil {
		return handler(ctx, req)
	}
	loan := &blockLoan{}
	resp, err := handler(context.WithValue(ctx, blockLoanKey{}, loan), req)
	if err != nil || loan.resp == nil || resp != any(loan.resp) || !sameSlice(loan.resp.Data, loan.data) {
		return resp, err
	}
	return &wire.LentBlock{Response: loan.resp, Buf: loan.buf, Pool: s.sent}, nil
}

// sameSlice reports whether a and b are the same bytes of the same
// memory, not merely equal ones.
func sameSlice(a, b []byte) bool {
	return len(a) == len(b) && unsafe.SliceData(a) == unsafe.SliceData(b)
}
