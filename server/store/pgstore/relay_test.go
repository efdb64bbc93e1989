package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/server/store"
)

var (
	_ store.Relay = (*Relay)(nil)
	_ store.Bus   = (*Bus)(nil)
)

// twoProcesses opens two stores on one new database, as two server
// processes would, and waits until both listen.
func twoProcesses(t *testing.T) (*Store, *Store) {
	t.Helper()
	url := cluster.NewDatabase(t)
	return mustOpen(t, url), mustOpen(t, url)
}

// waitListening waits until every store's notifier listens.
func waitListening(t *testing.T, stores ...*Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, s := range stores {
		for !s.notifier.listening() {
			if time.Now().After(deadline) {
				t.Fatal("the notifier did not listen within 10s")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// relayOp is one call of a relay scenario.
type relayOp struct {
	op                  string // start, post, abort, wait, forget
	box                 string
	attempt, side, step uint32
	payload             string
}

// relayResult is what a call returned, in a form two relays can be
// compared by: errors by kind.
type relayResult struct {
	attempt uint32
	payload string
	live    bool
	err     string
}

func errKind(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, store.ErrEnrolmentStale):
		return "stale"
	case errors.Is(err, store.ErrEnrolmentAborted):
		return "aborted"
	case errors.Is(err, context.DeadlineExceeded):
		return "waiting"
	}
	return "error: " + err.Error()
}

// runRelayOp runs o on r; a wait that has not answered after patience
// is "waiting".
func runRelayOp(t *testing.T, r store.Relay, o relayOp, patience time.Duration) relayResult {
	t.Helper()
	ctx := t.Context()
	switch o.op {
	case "start":
		a, err := r.Start(ctx, o.box)
		return relayResult{attempt: a, err: errKind(err)}
	case "post":
		return relayResult{err: errKind(r.Post(ctx, o.box, o.attempt, o.side, o.step, []byte(o.payload)))}
	case "abort":
		live, err := r.Abort(ctx, o.box, o.attempt)
		return relayResult{live: live, err: errKind(err)}
	case "wait":
		wctx, cancel := context.WithTimeout(ctx, patience)
		defer cancel()
		a, p, err := r.Wait(wctx, o.box, o.attempt, o.side, o.step)
		return relayResult{attempt: a, payload: string(p), err: errKind(err)}
	case "forget":
		time.Sleep(5 * time.Millisecond) // idle for longer than 0
		r.Forget(ctx, 0)
		return relayResult{}
	}
	t.Fatalf("unknown op %q", o.op)
	return relayResult{}
}

// TestRelaySameRules plays one scenario on the in-memory relay and on two
// PostgreSQL relays sharing a database, each call going to one or the
// other in turn, and wants the same answers.
func TestRelaySameRules(t *testing.T) {
	s1, s2 := twoProcesses(t)
	pg := []store.Relay{NewRelay(s1, nil), NewRelay(s2, nil)}
	waitListening(t, s1, s2)
	local := store.NewLocalRelay()
	const box, other = "org/inv1", "org/inv2"
	const claimer, greeter = 2, 1
	ops := []relayOp{
		{op: "wait", box: box, side: claimer, step: 1},             // nothing started: waits
		{op: "post", box: box, attempt: 1, side: claimer, step: 1}, // no attempt 1 yet
		{op: "abort", box: box, attempt: 1},                        // not started: not live
		{op: "start", box: box},                                    // 1
		{op: "post", box: box, attempt: 1, side: claimer, step: 1, payload: "c1"},
		{op: "post", box: box, attempt: 1, side: claimer, step: 1, payload: "again"}, // step posted
		{op: "wait", box: box, side: claimer, step: 1},                               // newest: 1
		{op: "wait", box: box, attempt: 1, side: claimer, step: 1},
		{op: "wait", box: box, attempt: 1, side: greeter, step: 1}, // not posted: waits
		{op: "wait", box: box, attempt: 2, side: claimer, step: 1}, // not started: stale
		{op: "post", box: box, attempt: 2, side: greeter, step: 1}, // stale
		{op: "post", box: box, attempt: 0, side: greeter, step: 1}, // stale
		{op: "post", box: box, attempt: 1, side: greeter, step: 1, payload: "g1"},
		{op: "wait", box: box, attempt: 1, side: greeter, step: 1},
		{op: "abort", box: box, attempt: 2},                        // not started
		{op: "abort", box: box, attempt: 0},                        // never live
		{op: "abort", box: box, attempt: 1},                        // live
		{op: "abort", box: box, attempt: 1},                        // counted once
		{op: "post", box: box, attempt: 1, side: claimer, step: 2}, // aborted
		{op: "wait", box: box, attempt: 1, side: claimer, step: 1}, // aborted
		{op: "wait", box: box, side: claimer, step: 1},             // newest is aborted: waits for the next
		{op: "start", box: box},                                    // 2, drops attempt 1's messages
		{op: "wait", box: box, attempt: 1, side: claimer, step: 1}, // aborted beats stale
		{op: "wait", box: box, side: claimer, step: 1},             // attempt 2, nothing yet
		{op: "post", box: box, attempt: 2, side: claimer, step: 1, payload: "c2"},
		{op: "wait", box: box, side: claimer, step: 1},
		{op: "wait", box: other, side: claimer, step: 1},                        // boxes are apart
		{op: "post", box: other, attempt: 2, side: claimer, step: 1},            // stale there
		{op: "start", box: box},                                                 // 3
		{op: "wait", box: box, attempt: 2, side: claimer, step: 1},              // stale
		{op: "post", box: box, attempt: 3, side: claimer, step: 1, payload: ""}, // empty message
		{op: "wait", box: box, attempt: 3, side: claimer, step: 1},
		{op: "wait", box: box, attempt: 3, side: claimer, step: 2},
		{op: "forget", box: box},                                   // every box idle
		{op: "wait", box: box, attempt: 3, side: claimer, step: 1}, // forgotten: stale
		{op: "wait", box: box, side: claimer, step: 1},             // waits
		{op: "start", box: box},                                    // 1 again
		{op: "abort", box: box, attempt: 3},
	}
	for i, o := range ops {
		// What would block is seen as "waiting" after a short while; a
		// wait the in-memory relay answers gets time to answer through
		// PostgreSQL on a loaded machine (CI once saw 150 ms pass before
		// an aborted attempt's answer).
		want := runRelayOp(t, local, o, 150*time.Millisecond)
		patience := 150 * time.Millisecond
		if want.err != "waiting" {
			patience = 20 * time.Second
		}
		got := runRelayOp(t, pg[i%2], o, patience)
		if got != want {
			t.Errorf("op %d %+v through store %d: got %+v, the in-memory relay gives %+v", i, o, i%2+1, got, want)
		}
	}
}

// TestRelayWaitAcrossStores checks that a waiter on one store is woken by
// a change made through the other, at once: by notification, not by
// polling.
func TestRelayWaitAcrossStores(t *testing.T) {
	s1, s2 := twoProcesses(t)
	r1, r2 := NewRelay(s1, nil), NewRelay(s2, nil)
	waitListening(t, s1, s2)
	ctx := t.Context()
	const box = "org/inv"

	type waited struct {
		attempt uint32
		payload []byte
		err     error
		after   time.Duration
	}
	wait := func(r *Relay, attempt, side, step uint32) <-chan waited {
		ch := make(chan waited, 1)
		start := time.Now()
		go func() {
			a, p, err := r.Wait(ctx, box, attempt, side, step)
			ch <- waited{a, p, err, time.Since(start)}
		}()
		time.Sleep(50 * time.Millisecond) // let it read the box and wait
		return ch
	}
	// Well under relayPollUp: only a notification wakes a waiter this soon.
	const prompt = time.Second
	check := func(what string, ch <-chan waited, attempt uint32, payload string, wantErr error) {
		t.Helper()
		select {
		case w := <-ch:
			if w.attempt != attempt || string(w.payload) != payload || !errors.Is(w.err, wantErr) || (wantErr == nil) != (w.err == nil) {
				t.Fatalf("%s: Wait = %d, %q, %v; want %d, %q, %v", what, w.attempt, w.payload, w.err, attempt, payload, wantErr)
			}
			t.Logf("%s: woken %v after it began waiting", what, w.after.Round(time.Millisecond))
		case <-time.After(prompt):
			t.Fatalf("%s: Wait still waiting %v after the change", what, prompt)
		}
	}

	// The greeter waits on store 1 for the claimer's first message of the
	// newest attempt; the claimer starts and posts through store 2.
	ch := wait(r1, 0, 2, 1)
	a, err := r2.Start(ctx, box)
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.Post(ctx, box, a, 2, 1, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	check("message posted through the other store", ch, a, "hello", nil)

	ch = wait(r2, a, 1, 1)
	if live, err := r1.Abort(ctx, box, a); err != nil || !live {
		t.Fatalf("Abort = %v, %v; want true", live, err)
	}
	check("attempt aborted through the other store", ch, a, "", store.ErrEnrolmentAborted)

	a2, err := r1.Start(ctx, box)
	if err != nil {
		t.Fatal(err)
	}
	ch = wait(r2, a2, 1, 1)
	if _, err := r1.Start(ctx, box); err != nil {
		t.Fatal(err)
	}
	check("newer attempt started through the other store", ch, a2, "", store.ErrEnrolmentStale)

	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, _, err := r1.Wait(cctx, box, 0, 2, 9)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait after its context was cancelled: %v, want %v", err, context.Canceled)
		}
	case <-time.After(prompt):
		t.Fatal("Wait still waiting after its context was cancelled")
	}
}

// TestRelayListenerLost cuts the listening connections: a waiter still
// gets its message (by polling, then by the reconnection), and the
// notifiers listen again.
func TestRelayListenerLost(t *testing.T) {
	s1, s2 := twoProcesses(t)
	r1, r2 := NewRelay(s1, nil), NewRelay(s2, nil)
	waitListening(t, s1, s2)
	ctx := t.Context()
	const box = "org/inv"
	a, err := r2.Start(ctx, box)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		_, p, err := r1.Wait(ctx, box, a, 2, 1)
		if err == nil && string(p) != "late" {
			err = fmt.Errorf("payload %q, want %q", p, "late")
		}
		got <- err
	}()
	time.Sleep(50 * time.Millisecond)
	killListeners(t, s1)
	if err := r2.Post(ctx, box, a, 2, 1, []byte("late")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait missed the message posted while its process was not listening")
	}
	waitListening(t, s1, s2)
}

// killListeners ends the listening connections of every store on s's
// database, as a network cut or a database restart would.
func killListeners(t *testing.T, s *Store) {
	t.Helper()
	var n int
	err := s.pool.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'coffre-server listener'`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no listening connection to end")
	}
	t.Logf("ended %d listening connections", n)
}

// TestRelayConcurrentStarts starts attempts at once through both stores:
// each gets an attempt of its own.
func TestRelayConcurrentStarts(t *testing.T) {
	s1, s2 := twoProcesses(t)
	rs := []*Relay{NewRelay(s1, nil), NewRelay(s2, nil)}
	const n = 20
	var mu sync.Mutex
	var attempts []uint32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			a, err := rs[i%2].Start(t.Context(), "org/inv")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			attempts = append(attempts, a)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(attempts)
	for i, a := range attempts {
		if a != uint32(i+1) {
			t.Fatalf("attempts %v, want 1 to %d once each", attempts, n)
		}
	}
}

// TestRelayForget checks that Forget keeps boxes in use and drops idle
// ones with their messages.
func TestRelayForget(t *testing.T) {
	s1, s2 := twoProcesses(t)
	r1, r2 := NewRelay(s1, nil), NewRelay(s2, nil)
	ctx := t.Context()
	a, err := r1.Start(ctx, "org/old")
	if err != nil {
		t.Fatal(err)
	}
	if err := r1.Post(ctx, "org/old", a, 2, 1, []byte("x")); err != nil {
		t.Fatal(err)
	}
	r2.Forget(ctx, time.Hour)
	count := func() (boxes, msgs int) {
		if err := s1.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM relay_boxes), (SELECT count(*) FROM relay_messages)`).Scan(&boxes, &msgs); err != nil {
			t.Fatal(err)
		}
		return boxes, msgs
	}
	if b, m := count(); b != 1 || m != 1 {
		t.Fatalf("after Forget(1h) of a box just used: %d boxes, %d messages; want 1, 1", b, m)
	}
	time.Sleep(time.Second)
	if _, err := r1.Start(ctx, "org/new"); err != nil {
		t.Fatal(err)
	}
	r2.Forget(ctx, 500*time.Millisecond)
	if b, m := count(); b != 1 || m != 0 {
		t.Fatalf("after Forget(500ms): %d boxes, %d messages; want 1 (the new one), 0", b, m)
	}
}
