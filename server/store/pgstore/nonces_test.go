package pgstore

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffre/coffre/server/store"
)

var _ store.Nonces = (*Nonces)(nil)

// A nonce recorded through one process is not fresh through another; of
// many processes recording one nonce at once exactly one sees it fresh;
// Forget drops only older nonces.
func TestNoncesAcrossProcesses(t *testing.T) {
	a, b := twoProcesses(t)
	na, nb := NewNonces(a), NewNonces(b)
	ctx := t.Context()
	now := time.Now()
	nonce := []byte("0123456789abcdef")
	fresh := func(n *Nonces, device string, nonce []byte, at time.Time) bool {
		t.Helper()
		ok, err := n.Fresh(ctx, device, nonce, at)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !fresh(na, "deviceaa", nonce, now) {
		t.Fatal("a new nonce is not fresh")
	}
	if fresh(nb, "deviceaa", nonce, now) {
		t.Fatal("a nonce recorded by process A is fresh again for process B (a replay across processes)")
	}
	if fresh(na, "deviceaa", nonce, now) {
		t.Fatal("a nonce recorded by process A is fresh again for A")
	}
	if !fresh(nb, "devicebb", nonce, now) {
		t.Fatal("the same nonce from another device is not fresh")
	}

	// A race of 16 writers on one nonce, half through each process.
	var wins atomic.Int32
	var wg sync.WaitGroup
	race := []byte("race-race-race-1")
	for i := range 16 {
		n := []*Nonces{na, nb}[i%2]
		wg.Go(func() {
			ok, err := n.Fresh(ctx, "deviceaa", race, now)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("16 concurrent records of one nonce: %d saw it fresh, want 1", wins.Load())
	}

	old := []byte("old-old-old-old-")
	if !fresh(na, "deviceaa", old, now.Add(-time.Hour)) {
		t.Fatal("an old nonce is not fresh")
	}
	if err := nb.Forget(ctx, now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	var left []string
	rows, err := a.pool.Query(ctx, `SELECT encode(nonce, 'escape') FROM request_nonces ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		left = append(left, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(left), "[0123456789abcdef 0123456789abcdef race-race-race-1]"; got != want {
		t.Fatalf("after Forget of what is older than a minute, nonces %s, want %s", got, want)
	}
}

// TestOnlyHintsSkipTheFlush: the hints' connections (nonces, events)
// commit without waiting for the flush, and no other connection changes
// the cluster's setting: every other write is answered only once durable
// (SPEC.md §7). (The test cluster itself runs with it off, for speed: what
// is checked is who sets it.)
func TestOnlyHintsSkipTheFlush(t *testing.T) {
	s := mustOpen(t, cluster.NewDatabase(t))
	const q = `SELECT setting, source FROM pg_settings WHERE name = 'synchronous_commit'`
	var setting, source string
	if err := s.hints.QueryRow(t.Context(), q).Scan(&setting, &source); err != nil {
		t.Fatal(err)
	}
	if setting != "off" || source != "client" {
		t.Errorf("synchronous_commit on the hints' connections: %q from %q, want off from the client", setting, source)
	}
	if err := s.pool.QueryRow(t.Context(), q).Scan(&setting, &source); err != nil {
		t.Fatal(err)
	}
	if source == "client" || source == "session" {
		t.Errorf("synchronous_commit on the store's connections: %q from %q, want the cluster's", setting, source)
	}
}
