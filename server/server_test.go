package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/server/store/blockdir"
	"github.com/coffre/coffre/server/store/boltstore"
	"github.com/coffre/coffre/wire"
)

// testServer is a real server on a real bbolt file, over TLS on loopback.
type testServer struct {
	api   coffrev1.CoffreServiceClient
	orgID string
	token []byte // the bootstrap token
	clock *testClock
	cc    *grpc.ClientConn
	srv   *Server
	org   *certificate.Organisation // the test's own verified view
}

// device is a member device whose key the test holds.
type device struct {
	user, id string
	key      *crypto.SigningKey
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	return startServerWith(t, nil)
}

// startServerWith is startServer with the block store wrapped by wrap
// (nil: as coffre-server run has it).
func startServerWith(t *testing.T, wrap func(store.BlockStore) store.BlockStore) *testServer {
	t.Helper()
	return startServerEdited(t, wrap, nil)
}

// startServerEdited is startServerWith with edit (if not nil) applied to
// the server before it serves.
func startServerEdited(t *testing.T, wrap func(store.BlockStore) store.BlockStore, edit func(*Server)) *testServer {
	t.Helper()
	dir := t.TempDir()
	st, err := boltstore.Open(filepath.Join(dir, "coffre.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ts := serveStoreEdited(t, dir, st, nil, wrap, edit)
	l, err := NewOrganisation(context.Background(), st, "Test clinic", ts.srv.cfg.PublicAddress, "")
	if err != nil {
		t.Fatal(err)
	}
	ts.orgID, ts.token = l.OrganisationID, l.Token
	return ts
}

// serveStore starts a server on st, with its blocks and TLS key in dir,
// nonces as its shared replay cache (none if nil) and its block store
// wrapped by wrap (nil: as coffre-server run has it).
func serveStore(t *testing.T, dir string, st *boltstore.Store, nonces store.Nonces, wrap func(store.BlockStore) store.BlockStore) *testServer {
	t.Helper()
	return serveStoreEdited(t, dir, st, nonces, wrap, nil)
}

// serveStoreEdited is serveStore with edit (if not nil) applied to the
// server before it serves.
func serveStoreEdited(t *testing.T, dir string, st *boltstore.Store, nonces store.Nonces, wrap func(store.BlockStore) store.BlockStore, edit func(*Server)) *testServer {
	t.Helper()
	cert, _, _, err := LoadOrCreateTLS(dir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := blockdir.Open(filepath.Join(dir, "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	blocks.UseSmallBlocks(st) // as coffre-server run has it
	var bs store.BlockStore = blocks
	if wrap != nil {
		bs = wrap(blocks)
	}
	clock := &testClock{}
	srv := New(Config{Store: st, Blocks: bs, Nonces: nonces, PublicAddress: lis.Addr().String(), Now: clock.now})
	if edit != nil {
		edit(srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis, cert) }()
	t.Cleanup(func() { cancel(); <-done })

	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{InsecureSkipVerify: true})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return &testServer{api: coffrev1.NewCoffreServiceClient(cc), cc: cc, srv: srv, clock: clock}
}

// testClock is the server's clock, which a test can move forward.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

func startBootstrapped(t *testing.T) (*testServer, device) {
	ts := startServer(t)
	return ts, ts.bootstrap(t)
}

// bootstrap publishes the first admin through the Bootstrap call.
func (ts *testServer) bootstrap(t *testing.T) device {
	t.Helper()
	root, _ := crypto.GenerateSigningKey()
	admin := newDevice(t)
	seal, _ := crypto.GenerateSealKey()
	ts.org = certificate.NewOrganisation(ts.orgID, root.Public())
	certs, err := ts.org.SignNext(root, "", time.Now(),
		certificate.UserCreated{UserID: admin.user, Name: "A", Email: "a@x", Profile: certificate.ProfileAdmin, SealKey: seal.Public()},
		certificate.DeviceAdded{DeviceID: admin.id, UserID: admin.user, Label: "l", VerifyKey: admin.key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.api.Bootstrap(context.Background(), &coffrev1.BootstrapRequest{
		OrganisationId: ts.orgID, Token: ts.token, RootVerifyKey: root.Public().Bytes(), Certificates: certs})
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	for i, c := range certs {
		if _, err := ts.org.Apply(uint64(i+1), c); err != nil {
			t.Fatal(err)
		}
	}
	return admin
}

func newDevice(t *testing.T) device {
	k, err := crypto.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	return device{user: certificate.NewID(), id: certificate.NewID(), key: k}
}

// signed returns a context carrying a device signature over req for method.
func (ts *testServer) signed(t *testing.T, d device, method string, at time.Time, req proto.Message) context.Context {
	t.Helper()
	ctx, err := wire.SignOutgoing(context.Background(), d.key, method, ts.orgID, d.id, at, crypto.RandomBytes(wire.NonceSize), req)
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

// publish signs statements by d and appends them, mirroring them locally.
func (ts *testServer) publish(t *testing.T, d device, stmts ...certificate.Statement) error {
	t.Helper()
	certs, err := ts.org.SignNext(d.key, d.id, time.Now(), stmts...)
	if err != nil {
		t.Fatal(err)
	}
	req := &coffrev1.AppendCertificatesRequest{Certificates: certs}
	_, err = ts.api.AppendCertificates(ts.signed(t, d, coffrev1.CoffreService_AppendCertificates_FullMethodName, time.Now(), req), req)
	if err != nil {
		return wire.FromStatus(err)
	}
	for _, c := range certs {
		if _, err := ts.org.Apply(ts.org.Head.Position+1, c); err != nil {
			t.Fatal(err)
		}
	}
	return nil
}

func (ts *testServer) enrol(t *testing.T, admin device, p certificate.Profile) device {
	t.Helper()
	d := newDevice(t)
	seal, _ := crypto.GenerateSealKey()
	err := ts.publish(t, admin,
		certificate.UserCreated{UserID: d.user, Name: "U", Email: d.user + "@x", Profile: p, SealKey: seal.Public()},
		certificate.DeviceAdded{DeviceID: d.id, UserID: d.user, Label: "l", VerifyKey: d.key.Public()})
	if err != nil {
		t.Fatalf("enrol: %v", err)
	}
	return d
}

func (ts *testServer) hello(t *testing.T, ctx context.Context) error {
	_, err := ts.api.Hello(ctx, &coffrev1.HelloRequest{})
	return wire.FromStatus(err)
}

const helloMethod = coffrev1.CoffreService_Hello_FullMethodName

func TestRequestAuthentication(t *testing.T) {
	ts, admin := startBootstrapped(t)
	now := time.Now()

	ctx := ts.signed(t, admin, helloMethod, now, &coffrev1.HelloRequest{})
	if err := ts.hello(t, ctx); err != nil {
		t.Fatalf("a genuine call was refused: %v", err)
	}
	if err := ts.hello(t, ctx); !errors.Is(err, wire.ErrUnauthenticated) {
		t.Fatalf("replayed call: got %v, want ErrUnauthenticated", err)
	}
	stale := ts.signed(t, admin, helloMethod, now.Add(-10*time.Minute), &coffrev1.HelloRequest{})
	if err := ts.hello(t, stale); !errors.Is(err, wire.ErrUnauthenticated) {
		t.Fatalf("call from 10 minutes ago: got %v", err)
	}
	future := ts.signed(t, admin, helloMethod, now.Add(10*time.Minute), &coffrev1.HelloRequest{})
	if err := ts.hello(t, future); !errors.Is(err, wire.ErrUnauthenticated) {
		t.Fatalf("call from 10 minutes ahead: got %v", err)
	}
	impostor := admin
	impostor.key, _ = crypto.GenerateSigningKey()
	if err := ts.hello(t, ts.signed(t, impostor, helloMethod, now, &coffrev1.HelloRequest{})); !errors.Is(err, wire.ErrUnauthenticated) {
		t.Fatalf("call signed with another key: got %v", err)
	}
	if err := ts.hello(t, ts.signed(t, newDevice(t), helloMethod, now, &coffrev1.HelloRequest{})); !errors.Is(err, wire.ErrUnauthenticated) {
		t.Fatalf("unknown device: got %v", err)
	}
	// A signature for one call does not authorise another.
	other := ts.signed(t, admin, coffrev1.CoffreService_GetLog_FullMethodName, now, &coffrev1.HelloRequest{})
	if err := ts.hello(t, other); !errors.Is(err, wire.ErrUnauthenticated) {
		t.Fatalf("signature for another method: got %v", err)
	}
	// Nor does it cover another request body.
	signedFor := &coffrev1.GetLogRequest{From: 1}
	ctx = ts.signed(t, admin, coffrev1.CoffreService_GetLog_FullMethodName, now, signedFor)
	_, err := ts.api.GetLog(ctx, &coffrev1.GetLogRequest{From: 2})
	if err := wire.FromStatus(err); !errors.Is(err, wire.ErrUnauthenticated) {
		t.Fatalf("signature over another body: got %v", err)
	}
}

func TestRevokedDeviceRefusedAtOnce(t *testing.T) {
	ts, admin := startBootstrapped(t)
	bob := ts.enrol(t, admin, certificate.ProfileStandard)
	if err := ts.hello(t, ts.signed(t, bob, helloMethod, time.Now(), &coffrev1.HelloRequest{})); err != nil {
		t.Fatalf("bob refused before revocation: %v", err)
	}
	if err := ts.publish(t, admin, certificate.UserRevoked{UserID: bob.user}); err != nil {
		t.Fatal(err)
	}
	if err := ts.hello(t, ts.signed(t, bob, helloMethod, time.Now(), &coffrev1.HelloRequest{})); !errors.Is(err, wire.ErrDeviceRevoked) {
		t.Fatalf("revoked device: got %v, want ErrDeviceRevoked", err)
	}
}

func TestServerChecksCertificateRules(t *testing.T) {
	ts, admin := startBootstrapped(t)
	bob := ts.enrol(t, admin, certificate.ProfileStandard)
	seal, _ := crypto.GenerateSealKey()
	mallory := newDevice(t)
	// Bob's own device signs it properly, but a standard user may not
	// create users: the server refuses, whatever his client would do.
	err := ts.publish(t, bob, certificate.UserCreated{UserID: mallory.user, Email: "m@x", Profile: certificate.ProfileAdmin, SealKey: seal.Public()})
	if !errors.Is(err, wire.ErrCertificateRefused) {
		t.Fatalf("standard user creating an admin: got %v", err)
	}
	err = ts.publish(t, bob, certificate.ProfileChanged{UserID: bob.user, Profile: certificate.ProfileAdmin})
	if !errors.Is(err, wire.ErrCertificateRefused) {
		t.Fatalf("self promotion: got %v", err)
	}
	// A certificate signed by someone other than the caller is refused too.
	certs, _ := ts.org.SignNext(admin.key, admin.id, time.Now(), certificate.UserRevoked{UserID: bob.user})
	req := &coffrev1.AppendCertificatesRequest{Certificates: certs}
	_, err = ts.api.AppendCertificates(ts.signed(t, bob, coffrev1.CoffreService_AppendCertificates_FullMethodName, time.Now(), req), req)
	if err := wire.FromStatus(err); !errors.Is(err, wire.ErrCertificateRefused) {
		t.Fatalf("certificate by another device than the caller: got %v", err)
	}
}

func TestNonAdminCannotInvite(t *testing.T) {
	ts, admin := startBootstrapped(t)
	bob := ts.enrol(t, admin, certificate.ProfileStandard)
	hash := make([]byte, 32)
	req := &coffrev1.CreateInvitationRequest{TokenHash: hash, Kind: coffrev1.InvitationKind_INVITATION_KIND_USER,
		Email: "x@y", Profile: coffrev1.Profile_PROFILE_STANDARD, ExpiresMs: time.Now().Add(time.Hour).UnixMilli()}
	method := coffrev1.CoffreService_CreateInvitation_FullMethodName
	_, err := ts.api.CreateInvitation(ts.signed(t, bob, method, time.Now(), req), req)
	if err := wire.FromStatus(err); !errors.Is(err, wire.ErrForbidden) {
		t.Fatalf("standard user inviting: got %v, want ErrForbidden", err)
	}
	if _, err := ts.api.CreateInvitation(ts.signed(t, admin, method, time.Now(), req), req); err != nil {
		t.Fatalf("admin inviting: %v", err)
	}
}

func TestBootstrapTokenWorksOnce(t *testing.T) {
	ts := startServer(t)
	good := ts.token
	ts.token = crypto.RandomBytes(32)
	root, _ := crypto.GenerateSigningKey()
	org := certificate.NewOrganisation(ts.orgID, root.Public())
	admin := newDevice(t)
	seal, _ := crypto.GenerateSealKey()
	certs, _ := org.SignNext(root, "", time.Now(),
		certificate.UserCreated{UserID: admin.user, Email: "a@x", Profile: certificate.ProfileAdmin, SealKey: seal.Public()},
		certificate.DeviceAdded{DeviceID: admin.id, UserID: admin.user, Label: "l", VerifyKey: admin.key.Public()})
	req := &coffrev1.BootstrapRequest{OrganisationId: ts.orgID, Token: ts.token, RootVerifyKey: root.Public().Bytes(), Certificates: certs}
	if _, err := ts.api.Bootstrap(context.Background(), req); !errors.Is(wire.FromStatus(err), wire.ErrBadBootstrapToken) {
		t.Fatalf("wrong bootstrap token: got %v", err)
	}
	req.Token = good
	if _, err := ts.api.Bootstrap(context.Background(), req); err != nil {
		t.Fatalf("right token: %v", err)
	}
	if _, err := ts.api.Bootstrap(context.Background(), req); !errors.Is(wire.FromStatus(err), wire.ErrAlreadyBootstrapped) {
		t.Fatalf("second bootstrap: got %v", err)
	}
}

func TestWatchPushesEventsAndEndsOnRevocation(t *testing.T) {
	ts, admin := startBootstrapped(t)
	bob := ts.enrol(t, admin, certificate.ProfileStandard)
	watch := func(d device) coffrev1.CoffreService_WatchClient {
		req := &coffrev1.WatchRequest{}
		ctx := ts.signed(t, d, coffrev1.CoffreService_Watch_FullMethodName, time.Now(), req)
		ctx, cancel := context.WithCancel(ctx)
		t.Cleanup(cancel)
		stream, err := ts.api.Watch(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		first, err := stream.Recv()
		if err != nil || first.GetLogAppended().GetHeadPosition() != ts.org.Head.Position {
			t.Fatalf("first event: %v, %v (want head %d)", first, err, ts.org.Head.Position)
		}
		return stream
	}
	adminStream, bobStream := watch(admin), watch(bob)

	if err := ts.publish(t, admin, certificate.ProfileChanged{UserID: bob.user, Profile: certificate.ProfileOutsider}); err != nil {
		t.Fatal(err)
	}
	ev, err := adminStream.Recv()
	if err != nil || ev.GetLogAppended().GetHeadPosition() != ts.org.Head.Position {
		t.Fatalf("event after an append: %v, %v", ev, err)
	}
	if ev, err := bobStream.Recv(); err != nil || ev.GetLogAppended() == nil {
		t.Fatalf("bob's event after an append: %v, %v", ev, err)
	}
	if err := ts.publish(t, admin, certificate.UserRevoked{UserID: bob.user}); err != nil {
		t.Fatal(err)
	}
	if _, err := bobStream.Recv(); !errors.Is(wire.FromStatus(err), wire.ErrDeviceRevoked) {
		t.Fatalf("revoked device's stream: got %v, want ErrDeviceRevoked", err)
	}
	if ev, err := adminStream.Recv(); err != nil || ev.GetLogAppended() == nil {
		t.Fatalf("admin's stream after the revocation: %v, %v", ev, err)
	}
}

func TestWatchNeedsAuthentication(t *testing.T) {
	ts, _ := startBootstrapped(t)
	stream, err := ts.api.Watch(context.Background(), &coffrev1.WatchRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	if !errors.Is(wire.FromStatus(err), wire.ErrUnauthenticated) {
		t.Fatalf("unsigned Watch: got %v", err)
	}
}

// An append leaves the server's shared state at the new head, as checked:
// the next call does not parse and verify the entries again from the
// store, and that state is the one the store's log gives.
func TestAppendAdoptsCheckedState(t *testing.T) {
	ts, admin := startBootstrapped(t)
	ctx := context.Background()
	if _, err := ts.srv.state(ctx, ts.orgID); err != nil {
		t.Fatal(err)
	}
	bob := ts.enrol(t, admin, certificate.ProfileStandard)
	if err := ts.publish(t, admin, certificate.UserRevoked{UserID: bob.user}); err != nil {
		t.Fatal(err)
	}
	st, err := ts.srv.orgState(ctx, ts.orgID)
	if err != nil {
		t.Fatal(err)
	}
	adopted := st.org.Load()
	if adopted.Head.Position != ts.org.Head.Position || !bytes.Equal(adopted.Head.Hash, ts.org.Head.Hash) {
		t.Fatalf("shared state at %d after the appends, want %d", adopted.Head.Position, ts.org.Head.Position)
	}
	if got, err := ts.srv.state(ctx, ts.orgID); err != nil || got != adopted {
		t.Fatalf("state after the appends: %p (%v), want the adopted %p", got, err, adopted)
	}
	fromStore, err := ts.srv.catchUp(ctx, ts.orgID, certificate.NewOrganisation(ts.orgID, ts.org.Root))
	if err != nil {
		t.Fatal(err)
	}
	if fromStore.Head.Position != adopted.Head.Position || !bytes.Equal(fromStore.Head.Hash, adopted.Head.Hash) {
		t.Fatalf("the store's log gives head %d, the adopted state %d", fromStore.Head.Position, adopted.Head.Position)
	}
	for _, org := range []*certificate.Organisation{adopted, fromStore} {
		if u, ok := org.User(bob.user); !ok || !u.Revoked() {
			t.Fatalf("bob in a state at %d: %v, revoked %v", org.Head.Position, ok, ok && u.Revoked())
		}
	}
}
