package server

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/wire"
)

// poisonPool is the server's pool of GetBlock buffers, which writes over
// every buffer given back to it before keeping it: a buffer given back
// before its answer was written reaches the client as 0xAA bytes.
type poisonPool struct {
	mem.BufferPool
	mu  sync.Mutex
	put map[*byte]int // first byte of each buffer given back → times
}

func newPoisonPool() *poisonPool {
	return &poisonPool{BufferPool: wire.NewBufferPool(), put: map[*byte]int{}}
}

func (p *poisonPool) Put(b *[]byte) {
	full := (*b)[:cap(*b)]
	for i := range full {
		full[i] = 0xAA
	}
	p.mu.Lock()
	p.put[&full[0]]++
	p.mu.Unlock()
	p.BufferPool.Put(b)
}

// given reports how many buffers came back, and whether the one data
// starts came back.
func (p *poisonPool) given(data []byte) (n int, back bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range p.put {
		n += k
	}
	return n, len(data) > 0 && p.put[&data[:1][0]] > 0
}

// startLendingServer starts a test server whose GetBlock buffers come
// from pool, with intercept (if not nil) as Config.UnaryInterceptors.
func startLendingServer(t *testing.T, pool mem.BufferPool, intercept grpc.UnaryServerInterceptor) *testServer {
	t.Helper()
	return startServerEdited(t, nil, func(s *Server) {
		s.sent = pool
		if intercept != nil {
			s.cfg.UnaryInterceptors = []grpc.UnaryServerInterceptor{intercept}
		}
	})
}

// getBlock asks ts for a block as admin.
func (ts *testServer) getBlock(t *testing.T, d device, vault, id string) ([]byte, error) {
	t.Helper()
	req := &coffrev1.GetBlockRequest{VaultId: vault, BlockId: id}
	resp, err := ts.api.GetBlock(ts.signed(t, d, coffrev1.CoffreService_GetBlock_FullMethodName, time.Now(), req), req)
	return resp.GetData(), err
}

// TestGetBlockBufferReusedOnceSent: GetBlock reads blocks into buffers of
// the server's pool, each given back only once its answer is written:
// with a pool that writes over what it gets back, many GetBlocks at once,
// over and over, all receive their blocks as put, and buffers are reused.
func TestGetBlockBufferReusedOnceSent(t *testing.T) {
	pool := newPoisonPool()
	ts := startLendingServer(t, pool, nil)
	admin := ts.bootstrap(t)
	vault := ts.createVault(t, admin, nil, time.Time{})
	blocks := putLargeBlocks(t, ts, admin, vault, 8)
	var wg sync.WaitGroup
	errs := make(chan string, 4*len(blocks))
	for round := range 4 {
		for id, want := range blocks {
			wg.Go(func() {
				got, err := ts.getBlock(t, admin, vault, id)
				if err != nil || !bytes.Equal(got, want) {
					errs <- id
				}
			})
		}
		if round%2 == 1 {
			wg.Wait() // some rounds after others, some at once
		}
	}
	wg.Wait()
	close(errs)
	for id := range errs {
		t.Errorf("block %s came back changed: its buffer was given back before its answer was written", id)
	}
	if n, _ := pool.given(nil); n == 0 {
		t.Errorf("no GetBlock buffer was given back to the pool")
	}
}

// TestRewrittenGetBlockNeverReused: an answer that an interceptor
// replaced or changed (a hostile test server) is sent as it is, and the
// buffer the block was read into is never given back to the pool: what
// the interceptor sends or keeps may point into it.
func TestRewrittenGetBlockNeverReused(t *testing.T) {
	rewrites := map[string]func(r *coffrev1.GetBlockResponse) (any, []byte){
		"new answer pointing into the block": func(r *coffrev1.GetBlockResponse) (any, []byte) {
			return &coffrev1.GetBlockResponse{Data: r.Data[1:]}, r.Data[1:]
		},
		"block shortened in place": func(r *coffrev1.GetBlockResponse) (any, []byte) {
			r.Data = r.Data[:len(r.Data)-1]
			return r, r.Data
		},
		"block grown into the buffer": func(r *coffrev1.GetBlockResponse) (any, []byte) {
			r.Data = append(r.Data, 1)
			return r, r.Data
		},
		"block replaced, the original kept": func(r *coffrev1.GetBlockResponse) (any, []byte) {
			kept := r.Data
			r.Data = bytes.Clone(kept)
			return r, kept
		},
	}
	for name, rewrite := range rewrites {
		t.Run(name, func(t *testing.T) {
			pool := newPoisonPool()
			var mu sync.Mutex
			var kept, sent [][]byte
			ts := startLendingServer(t, pool, func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
				resp, err := handler(ctx, req)
				r, ok := resp.(*coffrev1.GetBlockResponse)
				if !ok || err != nil {
					return resp, err
				}
				out, keep := rewrite(r)
				mu.Lock()
				kept, sent = append(kept, keep), append(sent, bytes.Clone(keep))
				mu.Unlock()
				return out, nil
			})
			admin := ts.bootstrap(t)
			vault := ts.createVault(t, admin, nil, time.Time{})
			for id := range putLargeBlocks(t, ts, admin, vault, 4) {
				for range 2 {
					got, err := ts.getBlock(t, admin, vault, id)
					if err != nil {
						t.Fatal(err)
					}
					mu.Lock()
					want := sent[len(sent)-1]
					mu.Unlock()
					if !bytes.Equal(got, want) {
						t.Fatalf("the client got %d bytes, not the %d of the rewritten answer", len(got), len(want))
					}
				}
			}
			for i := range kept {
				if n, back := pool.given(kept[i]); back || n > 0 {
					t.Fatalf("%d buffers given back to the pool, the rewritten answer's among them: %v", n, back)
				}
				if !bytes.Equal(kept[i], sent[i]) {
					t.Fatalf("what the interceptor kept of answer %d changed after it was sent", i)
				}
			}
		})
	}
}
