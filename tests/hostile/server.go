// Package hostile runs a real coffre server that a test can turn against
// its clients: the adversarial suites use it to play the server of
// SECURITY.md's threat model (rewrite any answer, edit, snapshot and restore
// the store) against the real client library.
//
// Everything is real: server.Server on a boltstore file in t.TempDir() and a
// blockdir block store beside it (DIR/blocks, as coffre-server run lays out
// its data directory), TLS with a self-signed certificate pinned in the
// links, gRPC on 127.0.0.1. With COFFRE_TEST_BACKEND=postgres+s3 the same
// server keeps its data in PostgreSQL (pgstore, with its Bus and Relay) and
// an S3 bucket (s3blocks on MinIO) instead, each server in a database and
// a bucket of its own (backend.go); a package that starts servers runs
// its tests through Main.
// The hostile powers are added around it:
//
//   - RewriteUnary, RewriteRequest and InterceptStream change what the
//     server answers or what it received, at run time (through
//     server.Config's interceptors, which run after authentication);
//   - Record keeps a copy of every call, as the client sent and received it;
//   - Store, Snapshot, Restore, EditLog (TruncateLog, ReplaceLogEntry,
//     SwapLogEntries) and AppendRaw change the stored state; the editing
//     ones stop the server, edit the bolt file (or the database's tables)
//     and restart it on the same address with the same TLS key, so client
//     links keep working;
//   - vault.go does the same for vault logs (EditVaultLog, AppendVaultRaw…)
//     and gives direct access to stored blocks (Blocks, WriteBlock…;
//     BlockPath, the file of one, is for the embedded backend only), and
//     SnapshotAll/RestoreAll include the blocks;
//   - Clock moves the server's clock.
//
// Client-side helpers (client.go) bootstrap organisations, enrol devices
// through the real enrolment with an in-memory pair of people, read a test
// device's key file, and sign raw gRPC calls as a device.
package hostile

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/link"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/tests/harness"
)

// Clock is the server's clock: real time plus an offset that a test moves.
// Clients sign requests with their own (real) clock, so moving the server's
// clock more than wire.MaxSkew away makes device calls fail authentication
// until it is moved back; token calls (claiming an invitation) still work.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is the server's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock by d (negative moves it back).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// Option configures Start.
type Option func(*options)

type options struct {
	config      []func(*server.Config)
	smallBlocks bool
}

// WithSmallBlocks makes the embedded store keep the small blocks of
// PutBlocks in coffre.db, as coffre-server run does (SPEC.md §7.4), rather
// than every block as a file; Block, WriteBlock, RemoveBlock and Blocks
// reach them too while the server runs. On postgres+s3 it changes nothing.
func WithSmallBlocks() Option {
	return func(o *options) { o.smallBlocks = true }
}

// WithConfig lets a test change the server's configuration (applied on
// every start and restart, after the hostile package set its fields).
func WithConfig(fn func(*server.Config)) Option {
	return func(o *options) { o.config = append(o.config, fn) }
}

// UnaryRewriter sees every unary call that passed authentication (device
// calls, and token calls such as a claimer's) after the handler ran,
// and returns what the client receives instead. Errors should be wire
// errors (wire.ErrForbidden…): anything else reaches the client as an
// internal error.
type UnaryRewriter func(method string, req, resp any, err error) (any, error)

// RequestRewriter sees every unary request that passed authentication
// before the handler, and returns the request the handler gets (a man in the middle:
// the client's signature was checked already).
type RequestRewriter func(method string, req any) any

// Server is a running coffre server under the test's control.
type Server struct {
	// Clock is the server's clock.
	Clock *Clock

	t       testing.TB
	dir     string
	addr    string
	cert    tls.Certificate
	pin     string
	options options
	logs    harness.SyncBuffer

	request  atomic.Pointer[RequestRewriter]
	response atomic.Pointer[UnaryRewriter]
	stream   atomic.Pointer[grpc.StreamServerInterceptor]
	recorder atomic.Pointer[Recording]

	backing backing // where the data is kept (backend.go)

	mu      sync.Mutex // guards the running instance below
	run     opened
	g       *grpc.Server
	served  chan struct{}
	stopped bool
}

// Start starts a server for the test; t.Cleanup stops it.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{Clock: &Clock{}, t: t, dir: t.TempDir()}
	for _, o := range opts {
		o(&s.options)
	}
	var err error
	if s.backing, err = newBacking(t, s.dir, s.options.smallBlocks); err != nil {
		t.Fatalf("hostile: %v", err)
	}
	s.cert, s.pin, _, err = server.LoadOrCreateTLS(s.dir, "", "")
	if err != nil {
		t.Fatalf("hostile: TLS: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("hostile: listen: %v", err)
	}
	s.addr = lis.Addr().String()
	if err := s.start(lis); err != nil {
		t.Fatalf("hostile: %v", err)
	}
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.stopLocked()
		s.stopped = true
	})
	return s
}

// Address is the host:port the server listens on.
func (s *Server) Address() string { return s.addr }

// Pin is the TLS pin written into links.
func (s *Server) Pin() string { return s.pin }

// Dir is the server's data directory: coffre.db, blocks/ and the TLS pair
// on the embedded backend, the TLS pair alone on postgres+s3.
func (s *Server) Dir() string { return s.dir }

// Logs returns everything the server logged so far (debug level included).
func (s *Server) Logs() string { return s.logs.String() }

// Store is the running server's store. A restart (Restore, EditLog…)
// replaces it: don't keep it across one.
func (s *Server) Store() store.Store {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.run.store
}

// start opens the store and serves on lis; s.mu is held or not yet shared.
func (s *Server) start(lis net.Listener) error {
	logger := slog.New(slog.NewTextHandler(&s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	run, err := s.backing.open(logger)
	if err != nil {
		lis.Close()
		return err
	}
	cfg := server.Config{
		Store:              run.store,
		Blocks:             run.blocks,
		Bus:                run.bus,
		Relay:              run.relay,
		Nonces:             run.nonces,
		PublicAddress:      s.addr,
		Pin:                s.pin,
		Now:                s.Clock.Now,
		Logger:             logger,
		UnaryInterceptors:  []grpc.UnaryServerInterceptor{s.unary},
		StreamInterceptors: []grpc.StreamServerInterceptor{s.streamHook},
	}
	for _, fn := range s.options.config {
		fn(&cfg)
	}
	g := server.New(cfg).GRPCServer(s.cert)
	served := make(chan struct{})
	go func() {
		defer close(served)
		g.Serve(lis)
	}()
	s.run, s.g, s.served = run, g, served
	return nil
}

func (s *Server) stopLocked() {
	if s.g == nil {
		return
	}
	// GOAWAY first, so that a call a client sends before it sees the
	// connection close is retried on a new one rather than failed; then
	// whatever is still running (Watch streams, relay waits) is cut.
	drained := make(chan struct{})
	go func() {
		s.g.GracefulStop()
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(drainTimeout):
		s.g.Stop()
		<-drained
	}
	<-s.served
	s.run.close()
	s.g, s.run = nil, opened{}
}

// drainTimeout bounds how long a stop waits for the calls under way.
const drainTimeout = 100 * time.Millisecond

// restart stops the server, runs edit on the stored state while nothing
// holds it, and starts again on the same address with the same TLS key.
// The in-memory state (nonces, relay, cached verified logs) starts afresh,
// as after any restart.
func (s *Server) restart(edit func() error) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		s.t.Fatalf("hostile: server already stopped")
	}
	s.stopLocked()
	if edit != nil {
		if err := edit(); err != nil {
			s.t.Fatalf("hostile: editing the store: %v", err)
		}
	}
	var lis net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port may take a moment to free
		if lis, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("hostile: listening again on %s: %v", s.addr, err)
	}
	if err := s.start(lis); err != nil {
		s.t.Fatalf("hostile: restarting: %v", err)
	}
}

// Restart stops and starts the server with the same store.
func (s *Server) Restart() { s.t.Helper(); s.restart(nil) }

// Snapshot returns a consistent copy of the whole store (Store.Backup).
func (s *Server) Snapshot() []byte {
	s.t.Helper()
	var buf bytes.Buffer
	if err := s.Store().Backup(context.Background(), &buf); err != nil {
		s.t.Fatalf("hostile: snapshot: %v", err)
	}
	return buf.Bytes()
}

// Restore puts a snapshot back in place of the store and restarts the
// server: the server's state is rolled back to the snapshot.
func (s *Server) Restore(snapshot []byte) {
	s.t.Helper()
	s.restart(func() error { return s.backing.restore(snapshot) })
}

// NewOrganisation creates an organisation as the operator does and returns
// its bootstrap link.
func (s *Server) NewOrganisation(t testing.TB, name string) link.Link {
	t.Helper()
	l, err := server.NewOrganisation(context.Background(), s.Store(), name, s.addr, s.pin)
	if err != nil {
		t.Fatalf("hostile: new organisation: %v", err)
	}
	return l
}

// --- the log, as stored ---------------------------------------------------

// Log returns the stored entry bytes of an organisation's log, position 1
// first.
func (s *Server) Log(t testing.TB, orgID string) [][]byte {
	t.Helper()
	entries, err := s.readLog(orgID)
	if err != nil {
		t.Fatalf("hostile: reading the log: %v", err)
	}
	out := make([][]byte, len(entries))
	for i, e := range entries {
		out[i] = e.Data
	}
	return out
}

func (s *Server) readLog(orgID string) ([]store.LogEntry, error) {
	var all []store.LogEntry
	for {
		page, err := s.Store().ReadLog(context.Background(), orgID, uint64(len(all))+1, 1000)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			return all, nil
		}
		all = append(all, page...)
	}
}

// LogState folds the stored log from the organisation's root key, as a
// client would, and returns the verified state: the head to sign the next
// certificate at (Organisation.SignNext), who is who. It fails the test if
// the stored log does not verify.
func (s *Server) LogState(t testing.TB, orgID string) *certificate.Organisation {
	t.Helper()
	org, err := s.Verified(orgID)
	if err != nil {
		t.Fatalf("hostile: %v", err)
	}
	return org
}

// Verified is LogState for use where the test can't be failed (inside a
// rewriter, which runs on the server's goroutines).
func (s *Server) Verified(orgID string) (*certificate.Organisation, error) {
	root, err := s.root(orgID)
	if err != nil {
		return nil, err
	}
	entries, err := s.readLog(orgID)
	if err != nil {
		return nil, err
	}
	org := certificate.NewOrganisation(orgID, root)
	for _, e := range entries {
		cert, opening, err := certificate.SplitIdentity(e.Data)
		if err != nil {
			return nil, fmt.Errorf("stored log does not verify: %w", err)
		}
		c, err := org.Apply(e.Position, cert)
		if err != nil {
			return nil, fmt.Errorf("stored log does not verify: %w", err)
		}
		// The server sees every identity: the state it works from names
		// everyone, as an honest server's could.
		if u, ok := c.Statement.(certificate.UserCreated); ok && opening != nil {
			if id, err := certificate.OpenIdentity(orgID, u.UserID, u.IdentityCommitment, opening); err == nil {
				user, _ := org.User(u.UserID)
				user.Name, user.Email = id.Name, id.Email
			}
		}
	}
	return org, nil
}

func (s *Server) rootKey(t testing.TB, orgID string) crypto.VerifyKey {
	t.Helper()
	root, err := s.root(orgID)
	if err != nil {
		t.Fatalf("hostile: %v", err)
	}
	return root
}

func (s *Server) root(orgID string) (crypto.VerifyKey, error) {
	rec, err := s.Store().Organisation(context.Background(), orgID)
	if err != nil {
		return crypto.VerifyKey{}, err
	}
	root, err := crypto.ParseVerifyKey(rec.RootVerifyKey)
	if err != nil {
		return crypto.VerifyKey{}, fmt.Errorf("organisation %s has no root key (not bootstrapped?): %w", orgID, err)
	}
	return root, nil
}

// AppendRaw appends entries to the stored log through the store, without
// any of the server's checks (the store keeps chain hashes consistent).
// The running server re-verifies its store: anything that does not verify
// from the root key makes it stop serving the organisation.
func (s *Server) AppendRaw(t testing.TB, orgID string, certs ...[]byte) {
	t.Helper()
	if err := s.Append(orgID, certs...); err != nil {
		t.Fatalf("hostile: %v", err)
	}
}

// Append is AppendRaw for use inside a rewriter.
func (s *Server) Append(orgID string, certs ...[]byte) error {
	ctx := context.Background()
	head, err := s.Store().LogHead(ctx, orgID)
	if err != nil {
		return err
	}
	prev := head.Hash
	if head.Position == 0 {
		root, err := s.root(orgID)
		if err != nil {
			return err
		}
		prev = certificate.Genesis(orgID, root)
	}
	var entries []store.LogEntry
	for i, data := range certs {
		h := certificate.EntryHash(prev, certOf(data))
		entries = append(entries, store.LogEntry{
			Position: head.Position + uint64(i) + 1, PrevHash: prev, Hash: h, Data: data, ReceivedAt: s.Clock.Now(),
		})
		prev = h
	}
	_, err = s.Store().AppendLog(ctx, orgID, entries, "", s.Clock.Now())
	return err
}

// EditLog rewrites an organisation's stored log: fn gets the entry bytes
// (position 1 first) and returns the new list, stored at positions 1…n
// with chain hashes recomputed from the genesis hash (the store's own
// bookkeeping stays consistent, as a careful attacker's would). The server
// is stopped during the edit and restarted on the same address.
func (s *Server) EditLog(t testing.TB, orgID string, fn func(entries [][]byte) [][]byte) {
	t.Helper()
	old, err := s.readLog(orgID)
	if err != nil {
		t.Fatalf("hostile: reading the log: %v", err)
	}
	data := make([][]byte, len(old))
	for i, e := range old {
		data[i] = e.Data
	}
	data = fn(slices.Clone(data))
	prev := certificate.Genesis(orgID, s.rootKey(t, orgID))
	var entries []store.LogEntry
	for i, d := range data {
		e := store.LogEntry{Position: uint64(i + 1), PrevHash: prev, Hash: certificate.EntryHash(prev, certOf(d)), Data: d}
		if i < len(old) {
			e.ReceivedAt = old[i].ReceivedAt
		} else {
			e.ReceivedAt = s.Clock.Now()
		}
		entries = append(entries, e)
		prev = e.Hash
	}
	s.restart(func() error { return s.backing.replaceLog(orgID, "", entries) })
}

// TruncateLog keeps the first keep entries of the stored log.
func (s *Server) TruncateLog(t testing.TB, orgID string, keep uint64) {
	t.Helper()
	s.EditLog(t, orgID, func(e [][]byte) [][]byte {
		if uint64(len(e)) < keep {
			t.Fatalf("hostile: truncating a log of %d entries to %d", len(e), keep)
		}
		return e[:keep]
	})
}

// ReplaceLogEntry replaces the stored bytes at a position (from 1).
func (s *Server) ReplaceLogEntry(t testing.TB, orgID string, pos uint64, data []byte) {
	t.Helper()
	s.EditLog(t, orgID, func(e [][]byte) [][]byte {
		e[pos-1] = data
		return e
	})
}

// SwapLogEntries swaps the stored bytes at two positions (from 1).
func (s *Server) SwapLogEntries(t testing.TB, orgID string, a, b uint64) {
	t.Helper()
	s.EditLog(t, orgID, func(e [][]byte) [][]byte {
		e[a-1], e[b-1] = e[b-1], e[a-1]
		return e
	})
}

// --- hooks ----------------------------------------------------------------

// RewriteUnary installs fn on every unary call that passed authentication (nil removes
// it). It can be changed at any time, from any goroutine.
func (s *Server) RewriteUnary(fn UnaryRewriter) {
	if fn == nil {
		s.response.Store(nil)
		return
	}
	s.response.Store(&fn)
}

// RewriteRequest installs fn on every unary request that passed
// authentication (nil removes it).
func (s *Server) RewriteRequest(fn RequestRewriter) {
	if fn == nil {
		s.request.Store(nil)
		return
	}
	s.request.Store(&fn)
}

// InterceptStream installs a stream interceptor (Watch), after
// authentication (nil removes it). Unlike unary errors, errors it returns
// reach the client as they are: return wire.Status(wire.ErrX).
func (s *Server) InterceptStream(fn grpc.StreamServerInterceptor) {
	if fn == nil {
		s.stream.Store(nil)
		return
	}
	s.stream.Store(&fn)
}

// ClearHooks removes every rewriter: the server is honest again.
func (s *Server) ClearHooks() {
	s.request.Store(nil)
	s.response.Store(nil)
	s.stream.Store(nil)
}

// Call is one unary call as the client saw it.
type Call struct {
	Method   string
	Request  proto.Message // as the client sent it
	Response proto.Message // as the client received it (nil on error)
	Err      error
}

// Recording collects calls; see Server.Record.
type Recording struct {
	mu    sync.Mutex
	calls []Call
}

// Calls returns the calls recorded so far.
func (r *Recording) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// Record starts recording every unary call that passed authentication (after any
// rewriting: what the client really got) until StopRecording.
func (s *Server) Record() *Recording {
	r := &Recording{}
	s.recorder.Store(r)
	return r
}

// StopRecording stops recording.
func (s *Server) StopRecording() { s.recorder.Store(nil) }

func (s *Server) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	rec := s.recorder.Load()
	var sent proto.Message
	if m, ok := req.(proto.Message); ok && rec != nil {
		sent = proto.Clone(m)
	}
	if fn := s.request.Load(); fn != nil {
		req = (*fn)(info.FullMethod, req)
	}
	resp, err := handler(ctx, req)
	if fn := s.response.Load(); fn != nil {
		if r, ok := resp.(*coffrev1.GetBlockResponse); ok && r != nil {
			// The rewriter's own copy, which it may keep: the server
			// reuses the buffer of the answer it sends as the handler
			// made it once it is written (server.Config.UnaryInterceptors).
			resp = proto.Clone(r)
		}
		resp, err = (*fn)(info.FullMethod, req, resp, err)
	}
	if rec != nil {
		c := Call{Method: info.FullMethod, Request: sent, Err: err}
		if m, ok := resp.(proto.Message); ok && err == nil {
			c.Response = proto.Clone(m)
		}
		rec.mu.Lock()
		rec.calls = append(rec.calls, c)
		rec.mu.Unlock()
	}
	return resp, err
}

func (s *Server) streamHook(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if fn := s.stream.Load(); fn != nil {
		return (*fn)(srv, ss, info, handler)
	}
	return handler(srv, ss)
}

// certOf is the certificate proper of a stored entry, without the identity
// opening stored beside it (SPEC.md §17): what the chain hash covers.
// Bytes that don't parse are returned as they are, for the verifier to
// refuse.
func certOf(data []byte) []byte {
	cert, _, err := certificate.SplitIdentity(data)
	if err != nil {
		return data
	}
	return cert
}
