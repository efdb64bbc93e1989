package server

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/server/store/boltstore"
	"github.com/coffre/coffre/wire"
)

// logNonces is a store.LogNonces on the real store of a test: the nonces
// in memory, the log read from the store, as pgstore's does in one round
// trip. It counts its reads, so that a test knows authentication took the
// path that uses it.
type logNonces struct {
	st    store.Store
	mu    sync.Mutex
	seen  map[string]bool
	reads atomic.Int64
}

func (n *logNonces) Fresh(_ context.Context, deviceID string, nonce []byte, _ time.Time) (bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := deviceID + "\x00" + string(nonce)
	if n.seen[k] {
		return false, nil
	}
	n.seen[k] = true
	return true, nil
}

func (n *logNonces) Forget(context.Context, time.Time) error { return nil }

func (n *logNonces) FreshReadLog(ctx context.Context, deviceID string, nonce []byte, at time.Time, orgID string, from uint64, limit int) (bool, []store.LogEntry, error) {
	n.reads.Add(1)
	fresh, _ := n.Fresh(ctx, deviceID, nonce, at)
	entries, err := n.st.ReadLog(ctx, orgID, from, limit)
	return fresh, entries, err
}

// TestRevocationSeenByAnotherProcess: with a store.LogNonces, a device
// the server already knows is authenticated against its snapshot, and the
// log beyond it is read with the nonce; a revocation appended through
// another server process on the same store since then refuses the
// device's next call at once (SPEC.md §6.1, §15), and a replay of a call
// it accepted is refused too.
func TestRevocationSeenByAnotherProcess(t *testing.T) {
	a, admin := startBootstrapped(t)
	nonces := &logNonces{st: a.srv.cfg.Store, seen: map[string]bool{}}
	b := serveStore(t, t.TempDir(), a.srv.cfg.Store.(*boltstore.Store), nonces, nil)
	b.orgID, b.org = a.orgID, a.org
	bob := a.enrol(t, admin, certificate.ProfileStandard)

	ctx := b.signed(t, bob, helloMethod, time.Now(), &coffrev1.HelloRequest{})
	if err := b.hello(t, ctx); err != nil {
		t.Fatalf("bob refused by B before revocation: %v", err)
	}
	if err := b.hello(t, ctx); !errors.Is(err, wire.ErrUnauthenticated) {
		t.Fatalf("bob's call replayed to B: got %v, want ErrUnauthenticated", err)
	}
	// A call another process accepted, replayed to B.
	nonce := crypto.RandomBytes(wire.NonceSize)
	nonces.Fresh(t.Context(), bob.id, nonce, time.Now())
	before := nonces.reads.Load()
	replayed, err := wire.SignOutgoing(context.Background(), bob.key, helloMethod, b.orgID, bob.id, time.Now(), nonce, &coffrev1.HelloRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.hello(t, replayed); !errors.Is(err, wire.ErrUnauthenticated) {
		t.Fatalf("bob's call accepted by another process, replayed to B: got %v, want ErrUnauthenticated", err)
	}
	if nonces.reads.Load() == before {
		t.Fatal("B authenticated bob without FreshReadLog: the test does not test it")
	}

	if err := a.publish(t, admin, certificate.UserRevoked{UserID: bob.user}); err != nil {
		t.Fatal(err)
	}
	if err := b.hello(t, b.signed(t, bob, helloMethod, time.Now(), &coffrev1.HelloRequest{})); !errors.Is(err, wire.ErrDeviceRevoked) {
		t.Fatalf("bob through B after A appended his revocation: got %v, want ErrDeviceRevoked", err)
	}
}
