package pgstore

import (
	"testing"
	"time"

	"github.com/coffre/coffre/server/store"
)

func vaultEvent(vault string, pos uint64) store.Event {
	return store.Event{Kind: store.VaultAppended, Vault: vault, Position: pos}
}

func logEvent(pos uint64) store.Event {
	return store.Event{Kind: store.LogAppended, Position: pos}
}

// wantEvent fails the test unless ch gives want within a second.
func wantEvent(t *testing.T, what string, ch <-chan store.Event, want store.Event) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("%s: got event %v, want %v", what, got, want)
		}
	case <-time.After(time.Second):
		t.Fatalf("%s: no event within a second, want %v", what, want)
	}
}

// wantNoEvent fails the test if ch gives anything within d.
func wantNoEvent(t *testing.T, what string, ch <-chan store.Event, d time.Duration) {
	t.Helper()
	select {
	case got := <-ch:
		t.Fatalf("%s: got event %v, want none", what, got)
	case <-time.After(d):
	}
}

// TestBusAcrossStores publishes through one store's bus and receives
// through both, each event once, and only for its organisation.
func TestBusAcrossStores(t *testing.T) {
	s1, s2 := twoProcesses(t)
	b1, b2 := NewBus(s1, nil), NewBus(s2, nil)
	waitListening(t, s1, s2)

	on1, cancel1 := b1.Subscribe("orgaaaaa")
	defer cancel1()
	on2, cancel2 := b2.Subscribe("orgaaaaa")
	defer cancel2()
	other, cancel3 := b1.Subscribe("orgbbbbb")
	defer cancel3()

	start := time.Now()
	b2.Publish("orgaaaaa", vaultEvent("vault001", 7))
	wantEvent(t, "the other process", on1, vaultEvent("vault001", 7))
	t.Logf("event through PostgreSQL in %v", time.Since(start).Round(time.Microsecond))
	wantEvent(t, "the publishing process", on2, vaultEvent("vault001", 7))
	b1.Publish("orgaaaaa", logEvent(3))
	wantEvent(t, "the other process", on2, logEvent(3))
	wantEvent(t, "the publishing process", on1, logEvent(3))
	// Its own notification comes back to each process: not delivered twice.
	wantNoEvent(t, "after each event was delivered once", on1, 300*time.Millisecond)
	wantNoEvent(t, "after each event was delivered once", on2, 0)
	wantNoEvent(t, "another organisation", other, 0)

	cancel1()
	b2.Publish("orgaaaaa", logEvent(4))
	wantEvent(t, "the publishing process", on2, logEvent(4))
	wantNoEvent(t, "a cancelled subscription", on1, 300*time.Millisecond)
}

// TestBusSlowSubscriber checks that a subscriber that does not read loses
// events rather than holding up the others.
func TestBusSlowSubscriber(t *testing.T) {
	s1, s2 := twoProcesses(t)
	b1, b2 := NewBus(s1, nil), NewBus(s2, nil)
	waitListening(t, s1, s2)
	slow, cancel := b1.Subscribe("orgaaaaa")
	defer cancel()
	marker, cancelMarker := b1.Subscribe("orgmarker")
	defer cancelMarker()
	const n = 200
	for i := range n {
		b2.Publish("orgaaaaa", logEvent(uint64(i)))
	}
	// Notifications arrive in order: once the marker is there, b1 has
	// handled every event before it.
	b2.Publish("orgmarker", logEvent(0))
	wantEvent(t, "the marker after the others", marker, logEvent(0))
	fast, cancelFast := b1.Subscribe("orgaaaaa")
	defer cancelFast()
	b2.Publish("orgaaaaa", logEvent(n))
	wantEvent(t, "a subscriber that reads, next to one that does not", fast, logEvent(n))
	if got := len(slow); got != cap(slow) {
		t.Fatalf("the slow subscriber holds %d events, want its buffer full (%d)", got, cap(slow))
	}
}

// TestBusCatchUp cuts the listening connections: once they are back,
// subscribers get the head of every log of their organisation, and events
// flow again.
func TestBusCatchUp(t *testing.T) {
	s1, s2 := twoProcesses(t)
	ctx := t.Context()
	newOrg(t, s1, "orgaaaaa")
	head, err := s1.VaultLogHead(ctx, "orgaaaaa", "vault001")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s1.AppendVaultLog(ctx, "orgaaaaa", "vault001", []store.LogEntry{next(head, "entry 1")}, base); err != nil {
		t.Fatal(err)
	}
	b1, b2 := NewBus(s1, nil), NewBus(s2, nil)
	waitListening(t, s1, s2)
	on1, cancel := b1.Subscribe("orgaaaaa")
	defer cancel()

	killListeners(t, s1)
	got := map[store.Event]bool{}
	for range 2 {
		select {
		case ev := <-on1:
			got[ev] = true
		case <-time.After(5 * time.Second):
			t.Fatalf("after the listening connection came back: got %v, want the head of both logs", got)
		}
	}
	for _, want := range []store.Event{logEvent(0), vaultEvent("vault001", 1)} {
		if !got[want] {
			t.Fatalf("after the listening connection came back: got %v, want %v among them", got, want)
		}
	}
	waitListening(t, s1, s2)
	b2.Publish("orgaaaaa", logEvent(1))
	wantEvent(t, "after reconnecting", on1, logEvent(1))
}
