package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestLocalBus: an organisation's subscribers get its events, not
// another's, and none after they unsubscribe.
func TestLocalBus(t *testing.T) {
	b := NewLocalBus()
	a, stopA := b.Subscribe("orgaaaaa")
	other, stopOther := b.Subscribe("orgbbbbb")
	defer stopOther()
	ev := Event{Kind: VaultAppended, Vault: "vaultaaa", Position: 3}
	b.Publish("orgaaaaa", ev)
	select {
	case got := <-a:
		if got != ev {
			t.Fatalf("got %+v, want %+v", got, ev)
		}
	case <-time.After(time.Second):
		t.Fatal("no event")
	}
	select {
	case got := <-other:
		t.Fatalf("another organisation's subscriber got %+v", got)
	default:
	}
	stopA()
	b.Publish("orgaaaaa", ev)
	select {
	case got := <-a:
		t.Fatalf("got %+v after unsubscribing", got)
	default:
	}
}

// TestLocalRelay: messages of the current attempt pass; an aborted or
// replaced attempt is refused with the relay's errors.
func TestLocalRelay(t *testing.T) {
	ctx := context.Background()
	r := NewLocalRelay()
	a1, err := r.Start(ctx, "box")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Post(ctx, "box", a1, 1, 1, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := r.Post(ctx, "box", a1, 1, 1, []byte("again")); !errors.Is(err, ErrEnrolmentStale) {
		t.Fatalf("a step posted twice: got %v, want ErrEnrolmentStale", err)
	}
	got, p, err := r.Wait(ctx, "box", 0, 1, 1)
	if err != nil || got != a1 || string(p) != "hello" {
		t.Fatalf("Wait: attempt %d, %q, %v", got, p, err)
	}
	a2, _ := r.Start(ctx, "box")
	if err := r.Post(ctx, "box", a1, 1, 2, nil); !errors.Is(err, ErrEnrolmentStale) {
		t.Fatalf("post to a replaced attempt: got %v, want ErrEnrolmentStale", err)
	}
	if live, _ := r.Abort(ctx, "box", a2); !live {
		t.Fatal("Abort of the live attempt says it was not live")
	}
	if live, _ := r.Abort(ctx, "box", a2); live {
		t.Fatal("an attempt aborted twice counts twice")
	}
	if _, _, err := r.Wait(ctx, "box", a2, 2, 1); !errors.Is(err, ErrEnrolmentAborted) {
		t.Fatalf("wait on an aborted attempt: got %v, want ErrEnrolmentAborted", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, _, err := r.Wait(wctx, "box", 0, 2, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait for a message that never comes: got %v", err)
	}
}
