package client

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// notYet is a server that answers every RelayWait "not found" at once.
type notYet struct {
	coffrev1.CoffreServiceClient
	calls int
}

func (s *notYet) RelayWait(context.Context, *coffrev1.RelayWaitRequest, ...grpc.CallOption) (*coffrev1.RelayWaitResponse, error) {
	s.calls++
	if s.calls > 1000 {
		return nil, context.Canceled // spinning: stop the test
	}
	return &coffrev1.RelayWaitResponse{Found: false}, nil
}

// TestRelayWaitBacksOff: against a server that answers "not yet" at once,
// the wait loop pauses between calls, doubling from 100 ms up to 5 s,
// instead of spinning (issue 10 #11). The pauses are recorded, not slept.
func TestRelayWaitBacksOff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := &notYet{}
	var pauses []time.Duration
	r := &relayEnd{api: srv, side: coffrev1.RelaySide_RELAY_SIDE_CLAIMER, sleep: func(ctx context.Context, d time.Duration) error {
		pauses = append(pauses, d)
		if len(pauses) == 9 {
			cancel()
		}
		return ctx.Err()
	}}
	var m coffrev1.GreeterHello
	if err := r.wait(ctx, 1, &m); err == nil {
		t.Fatal("the wait ended without an answer")
	}
	if srv.calls != 9 {
		t.Errorf("%d calls for 9 pauses", srv.calls)
	}
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000}
	for i := range want {
		want[i] *= time.Millisecond
	}
	// The call itself took some of each pause.
	for i := range pauses {
		if i < len(want) && (pauses[i] > want[i] || pauses[i] < want[i]-50*time.Millisecond) {
			t.Fatalf("pauses %v, want about %v", pauses, want)
		}
	}
	if len(pauses) != len(want) {
		t.Fatalf("pauses %v, want about %v", pauses, want)
	}
}

// TestPauseCountsTheCall: a call the server held longer than the pause due
// (its long poll) is followed by no pause at all.
func TestPauseCountsTheCall(t *testing.T) {
	if wait, next := pause(relayPause, 20*time.Second); wait != 0 || next != 2*relayPause {
		t.Errorf("pause after a long poll: wait %v, next %v", wait, next)
	}
	var seq []time.Duration
	due := relayPause
	for range 8 {
		var wait time.Duration
		wait, due = pause(due, 0)
		seq = append(seq, wait)
	}
	if !slices.IsSorted(seq) || seq[len(seq)-1] != relayMaxPause {
		t.Errorf("pauses %v: want growing to %v", seq, relayMaxPause)
	}
}
