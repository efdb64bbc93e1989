// Package server is coffre's server: it stores and relays opaque, signed
// bytes, authenticates every device call, and checks certificate rules as
// defence in depth (SPEC.md §6). It never holds a key that opens anything.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"

	"github.com/coffre/coffre/certificate"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/wire"
)

// Config is what a Server needs.
type Config struct {
	Store store.Store
	// Blocks keeps the encrypted blocks of files.
	Blocks store.BlockStore
	// Bus and Relay reach the other server processes sharing the store;
	// nil means this process is alone (in-memory).
	Bus   store.Bus
	Relay store.Relay
	// Nonces, if not nil, is a replay cache shared with the other server
	// processes: a request replayed to another process is refused too
	// (SPEC.md §6.1). Each process keeps its own cache in front of it.
	Nonces store.Nonces
	// PublicAddress is the host:port clients reach, written into links.
	PublicAddress string
	// Pin is the TLS public-key pin written into links ("" for a CA certificate).
	Pin string
	// Now is the clock; nil means time.Now. Tests move it.
	Now func() time.Time
	// Logger receives structured logs; nil discards them. Nothing secret
	// is ever logged: no token, key or certificate body.
	Logger *slog.Logger
	// MaxEnrolmentAttempts is how many failed attempts burn an invitation.
	MaxEnrolmentAttempts int
	// UnaryInterceptors and StreamInterceptors run after authentication,
	// around the handlers. The adversarial tests use them to play a server
	// that rewrites what it answers. An interceptor that keeps a request's
	// or an answer's block beyond its call keeps a copy: the buffers of a
	// PutBlock's request and of a GetBlock's answer passed on unchanged are
	// reused once the call is over (releaseBlock, lendBlock).
	UnaryInterceptors  []grpc.UnaryServerInterceptor
	StreamInterceptors []grpc.StreamServerInterceptor
	// GCGrace is how long a block no committed vault entry references is
	// kept before a collection deletes it (0: DefaultGCGrace), and
	// GCInterval how often Serve runs one (0: never; the operator's
	// CollectBlocks still does). SPEC.md §7.5.
	GCGrace    time.Duration
	GCInterval time.Duration
	// OnPanic, if not nil, is called with the method after a handler's
	// panic was recovered, logged and counted. The robustness tests fail
	// on it: the recovery is a last line of defence, not a way to answer.
	OnPanic func(method string)
}

// Server implements the coffre service.
type Server struct {
	coffrev1.UnimplementedCoffreServiceServer

	cfg     Config
	log     *slog.Logger
	bus     store.Bus
	relay   store.Relay
	nonces  *nonceCache
	limiter *limiter
	metrics *metrics
	started time.Time

	// received holds the buffers PutBlock requests arrive in, reused once
	// the call is over if reuseReceived (releaseBlock).
	received      *wire.ReceivePool
	reuseReceived bool

	// sent holds the buffers GetBlock reads blocks into when the block
	// store can (borrow), each reused once its answer is written
	// (lendBlock).
	sent   mem.BufferPool
	borrow store.BlockBorrowing

	mu   sync.Mutex
	orgs map[string]*orgState
	// heads signs head statements with the TLS key (GetHead).
	heads atomic.Pointer[headSigner]
}

// orgState caches an organisation's verified log state. appendMu
// serialises the organisation log's appends so that each is checked
// against the head it extends; each vault log has its own lock for the
// same (vaultAppender), so that writes to different vaults don't wait for
// each other and the store can commit them together.
type orgState struct {
	appendMu sync.Mutex
	mu       sync.Mutex
	org      atomic.Pointer[certificate.Organisation] // written under mu
	vaultsMu sync.Mutex
	vaults   map[string]*vaultAppender // guarded by vaultsMu
}

// vaultAppender serialises one vault log's appends and keeps its folded
// tail between them.
type vaultAppender struct {
	mu   sync.Mutex
	tail *vaultTail // guarded by mu; nil until folded
}

// vault returns the appender of a vault, made on first use.
func (st *orgState) vault(id string) *vaultAppender {
	st.vaultsMu.Lock()
	defer st.vaultsMu.Unlock()
	if st.vaults == nil {
		st.vaults = map[string]*vaultAppender{}
	}
	a := st.vaults[id]
	if a == nil {
		a = &vaultAppender{}
		st.vaults[id] = a
	}
	return a
}

// New returns a Server on cfg.Store.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Bus == nil {
		cfg.Bus = store.NewLocalBus()
	}
	if cfg.Relay == nil {
		cfg.Relay = store.NewLocalRelay()
	}
	if cfg.MaxEnrolmentAttempts == 0 {
		cfg.MaxEnrolmentAttempts = 3
	}
	return &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		bus:     cfg.Bus,
		relay:   cfg.Relay,
		nonces:  newNonceCache(),
		limiter: newLimiter(20, 60),
		metrics: newMetrics(),
		started: cfg.Now(),
		orgs:    map[string]*orgState{},

		received:      &wire.ReceivePool{},
		reuseReceived: releasesData(cfg.Blocks),
		sent:          wire.NewBufferPool(),
		borrow:        borrowing(cfg.Blocks),
	}
}

// releasesData reports whether blocks is done with a block's bytes when
// its PutBlock returns (store.DataReleasing).
func releasesData(blocks store.BlockStore) bool {
	_, ok := blocks.(store.DataReleasing)
	return ok
}

// GRPCServer returns a gRPC server with TLS, the interceptors that
// authenticate calls, and the coffre service registered.
func (s *Server) GRPCServer(cert tls.Certificate) *grpc.Server {
	s.heads.Store(newHeadSigner(cert))
	creds := wire.TLS(&tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS13,
	})
	g := grpc.NewServer(
		grpc.Creds(creds),
		grpc.WriteBufferSize(wire.WriteBufferSize),
		grpc.MaxRecvMsgSize(16<<20),
		grpc.ForceServerCodecV2(wire.NewBlockCodec().WithReceivePool(s.received)),
		grpc.StatsHandler(connStats{s.metrics}),
		grpc.ChainUnaryInterceptor(append([]grpc.UnaryServerInterceptor{s.lendBlock, s.releaseBlock, s.metrics.unary, s.unaryRecover, s.unaryAuth}, s.cfg.UnaryInterceptors...)...),
		grpc.ChainStreamInterceptor(append([]grpc.StreamServerInterceptor{s.metrics.stream, s.streamRecover, s.streamAuth}, s.cfg.StreamInterceptors...)...),
	)
	coffrev1.RegisterCoffreServiceServer(g, s)
	registerHealth(g)
	return g
}

// Serve serves the coffre service on lis until ctx ends, then stops
// gracefully.
func (s *Server) Serve(ctx context.Context, lis net.Listener, cert tls.Certificate) error {
	g := s.GRPCServer(cert)
	go s.housekeeping(ctx)
	if s.cfg.GCInterval > 0 {
		go s.serveCollector(ctx, s.cfg.GCInterval)
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		done := make(chan struct{})
		go func() { g.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			g.Stop()
		}
	}()
	err := g.Serve(lis)
	<-stopped
	if errors.Is(err, grpc.ErrServerStopped) {
		err = nil
	}
	return err
}

func (s *Server) housekeeping(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.nonces.sweep(s.cfg.Now())
			if s.cfg.Nonces != nil {
				if err := s.cfg.Nonces.Forget(ctx, s.cfg.Now().Add(-2*wire.MaxSkew)); err != nil && ctx.Err() == nil {
					s.log.Warn("forgetting old request nonces", "err", err)
				}
			}
			s.relay.Forget(ctx, time.Hour)
			s.limiter.sweep()
		}
	}
}

// state returns the organisation's verified state, caught up with the
// store. The result is a shared snapshot that nobody modifies: a caller
// that needs to apply certificates works on a Clone. New entries are
// applied to a copy that then replaces the snapshot (copy on write), so
// calls that find nothing new cost no copy.
//
// The store is asked for new entries without holding the lock, so that
// concurrent calls don't queue behind each other's reads; only a call
// that found some takes it, and applies them to the newest snapshot.
func (s *Server) state(ctx context.Context, orgID string) (*certificate.Organisation, error) {
	st, err := s.orgState(ctx, orgID)
	if err != nil {
		return nil, err
	}
	org := st.org.Load()
	entries, err := s.cfg.Store.ReadLog(ctx, orgID, org.Head.Position+1, 1000)
	if err != nil {
		return nil, err
	}
	return s.advance(ctx, orgID, st, org, entries)
}

// advance returns org, the snapshot st held, or the newest snapshot
// caught up with the store if entries, read from the store beyond org's
// head, are not empty.
func (s *Server) advance(ctx context.Context, orgID string, st *orgState, org *certificate.Organisation, entries []store.LogEntry) (*certificate.Organisation, error) {
	if len(entries) == 0 {
		return org, nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	next, err := s.catchUp(ctx, orgID, st.org.Load())
	if err != nil {
		return nil, err
	}
	st.org.Store(next)
	return next, nil
}

// adopt makes after, before with an append the store has just committed
// applied by the same rules, the shared snapshot, unless another call
// moved it meanwhile: the next call needn't parse and verify those entries
// again from the store (a key rotation in a vault of 1,000 members is 1 MB,
// and every call of the organisation waits for state's catch-up).
func (st *orgState) adopt(before, after *certificate.Organisation) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.org.CompareAndSwap(before, after)
}

func (s *Server) orgState(ctx context.Context, orgID string) (*orgState, error) {
	s.mu.Lock()
	st := s.orgs[orgID]
	s.mu.Unlock()
	if st != nil {
		return st, nil
	}
	rec, err := s.cfg.Store.Organisation(ctx, orgID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errOrganisationUnknown
	}
	if err != nil {
		return nil, err
	}
	if rec.RootVerifyKey == nil {
		return nil, errOrganisationUnknown // not bootstrapped: nobody can authenticate yet
	}
	root, err := parseVerifyKey(rec.RootVerifyKey)
	if err != nil {
		return nil, fmt.Errorf("organisation %s: stored root key: %w: %w", orgID, store.ErrCorrupt, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.orgs[orgID]; st != nil {
		return st, nil
	}
	st = &orgState{}
	st.org.Store(certificate.NewOrganisation(orgID, root))
	s.orgs[orgID] = st
	return st, nil
}

// catchUp applies the entries the store has beyond org's head. The server
// checks its own store too: an entry that fails is a corrupted store, and
// the organisation stops being served rather than serving it.
func (s *Server) catchUp(ctx context.Context, orgID string, org *certificate.Organisation) (*certificate.Organisation, error) {
	copied := false
	for {
		entries, err := s.cfg.Store.ReadLog(ctx, orgID, org.Head.Position+1, 1000)
		if err != nil {
			return nil, err
		}
		if len(entries) == 0 {
			return org, nil
		}
		if !copied {
			org, copied = org.Clone(), true
		}
		for _, e := range entries {
			cert, opening, err := certificate.SplitIdentity(e.Data)
			var c *certificate.Certificate
			if err == nil {
				c, err = org.Apply(e.Position, cert)
			}
			if err == nil {
				_ = knowIdentity(org, c, opening) // its emails were checked on append (SECURITY.md A70)
			}
			if err != nil {
				s.log.Error("stored log entry fails verification", "organisation", orgID, "position", e.Position, "error", err)
				return nil, fmt.Errorf("organisation %s: stored log: %w: %w", orgID, store.ErrCorrupt, err)
			}
		}
	}
}

// unaryRecover and streamRecover turn a handler's panic into an internal
// error for that call alone: one organisation's damaged data, or a bug it
// reaches, must not stop the process that serves the others (SECURITY.md
// A39). They are the last line of defence; the store reports damage as
// store.ErrCorrupt before anything can panic on it.
func (s *Server) unaryRecover(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer s.recovered(info.FullMethod, &err)
	return handler(ctx, req)
}

func (s *Server) streamRecover(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer s.recovered(info.FullMethod, &err)
	return handler(srv, ss)
}

// releaseBlock, outside every other interceptor, ends the loan of the
// buffer a PutBlock's block was received in once the call is over: it is
// reused only if the block store is done with the block by then
// (store.DataReleasing; an S3 upload's body may still be read after an
// early answer), and test servers' interceptors copy what they keep.
func (s *Server) releaseBlock(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if r, ok := req.(*coffrev1.PutBlockRequest); ok {
		defer s.received.Release(r.GetData(), s.reuseReceived)
	}
	return handler(ctx, req)
}

// recovered, deferred, stops a panic and sets *err to an internal error.
func (s *Server) recovered(method string, err *error) {
	v := recover()
	if v == nil {
		return
	}
	s.log.Error("call panicked", "method", method, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	s.metrics.panics.Inc()
	if s.cfg.OnPanic != nil {
		s.cfg.OnPanic(method)
	}
	*err = status.Error(codes.Internal, "internal server error")
}
