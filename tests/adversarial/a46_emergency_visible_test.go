package adversarial

import (
	"context"
	"strings"
	"testing"
	"time"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// TestA46NoSilentInvocation: an invocation is a certificate of the one
// organisation log, so the owners see it with its reason (Emergencies,
// the audit) once their device verified the log past it; and a server
// that withholds it from an owner can't also show them the vault as
// written after it: an entry by a member who saw the invocation claims
// that member's organisation head, which the owner must verify first
// (SECURITY.md A46, SPEC.md §16.1).
func TestA46NoSilentInvocation(t *testing.T) {
	t.Parallel()
	w := emergencyWorld(t, time.Hour, "")
	mustSync(t, w.sess["alice"])
	before := w.sess["alice"].Head().Position
	const reason = "cardiac arrest, chart needed now"
	if _, err := w.sess["carol"].InvokeEmergency(bg(), w.vault, reason); err != nil {
		t.Fatal(err)
	}
	// Bob releases the key and writes after seeing the invocation.
	mustSync(t, w.sess["bob"])
	put(t, w.open(t, "bob"), "/note.txt", []byte("released to the on-call doctor"))

	// The server withholds from Alice every certificate from the
	// invocation on.
	w.s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
		if method != coffrev1.CoffreService_GetLog_FullMethodName || err != nil {
			return resp, err
		}
		r := resp.(*coffrev1.GetLogResponse)
		var kept []*coffrev1.LogEntry
		for _, e := range r.Entries {
			if e.Position <= before {
				kept = append(kept, e)
			}
		}
		r.Entries, r.HeadPosition = kept, before
		return r, nil
	})
	if len(w.sess["alice"].Emergencies()) != 0 {
		t.Fatal("alice sees an invocation before verifying it")
	}
	v, _, err := w.sess["alice"].PrepareVault(bg(), w.vault)
	if err == nil {
		_, err = v.List("/", time.Time{})
	}
	if err == nil {
		t.Fatal("alice, shown the log without the invocation, read the vault as written after it")
	}
	t.Logf("alice, the invocation withheld: %v", err)
	w.s.ClearHooks()

	// Shown the log, Alice sees who, why and until when.
	mustSync(t, w.sess["alice"])
	es := w.sess["alice"].Emergencies()
	if len(es) != 1 || es[0].UserID != w.user("carol") || es[0].Reason != reason || !es[0].Running || !es[0].Released {
		t.Fatalf("alice's emergencies: %+v", es)
	}
	audit, err := w.sess["alice"].Audit()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range audit {
		found = found || (strings.Contains(a.Action, "EMERGENCY ACCESS") && strings.Contains(a.Action, reason) && strings.Contains(a.Author, "carol@example.org"))
	}
	if !found {
		t.Fatal("alice's audit does not show the invocation with its reason")
	}
	// A contributor is not told (owners and managers are).
	mustSync(t, w.sess["bob"])
	if es := w.sess["bob"].Emergencies(); len(es) != 0 {
		t.Fatalf("bob, a contributor, is listed emergencies: %+v", es)
	}
}

// TestA46OwnersArePushedTheInvocation: the server pushes an
// EmergencyAppended event to the Watch streams of the vault's owners and
// managers, not to its other members (SPEC.md §16.3, §6.4). A hint only:
// what the owners are shown is the certificate their client verified.
func TestA46OwnersArePushedTheInvocation(t *testing.T) {
	t.Parallel()
	w := emergencyWorld(t, time.Hour, "")
	watch := func(name string) <-chan *coffrev1.WatchResponse {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		st, err := w.s.Dial(t, w.dev[name].Signer()).Watch(ctx, &coffrev1.WatchRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Recv(); err != nil { // the current head, first
			t.Fatal(err)
		}
		ch := make(chan *coffrev1.WatchResponse, 16)
		go func() {
			for {
				ev, err := st.Recv()
				if err != nil {
					close(ch)
					return
				}
				ch <- ev
			}
		}()
		return ch
	}
	alice, bob := watch("alice"), watch("bob")
	e, err := w.sess["carol"].InvokeEmergency(bg(), w.vault, "stroke, thrombolysis decision")
	if err != nil {
		t.Fatal(err)
	}
	// Alice hears of it; Bob, a contributor, hears the log grew only.
	wait := func(ch <-chan *coffrev1.WatchResponse, until func(*coffrev1.WatchResponse) bool) []*coffrev1.WatchResponse {
		var got []*coffrev1.WatchResponse
		timeout := time.After(10 * time.Second)
		for {
			select {
			case ev, ok := <-ch:
				if !ok {
					return got
				}
				got = append(got, ev)
				if until(ev) {
					return got
				}
			case <-timeout:
				return got
			}
		}
	}
	got := wait(alice, func(ev *coffrev1.WatchResponse) bool { return ev.GetEmergencyAppended() != nil })
	if ev := got[len(got)-1].GetEmergencyAppended(); ev == nil || ev.GetVaultId() != w.vault || ev.GetPosition() != e.Position {
		t.Fatalf("alice's events: %v", got)
	}
	// Bob's stream: the invocation's LogAppended, then a VaultAppended
	// that comes after any event of the invocation would have.
	put(t, w.open(t, "alice"), "/after.txt", []byte("x"))
	got = wait(bob, func(ev *coffrev1.WatchResponse) bool { return ev.GetVaultAppended() != nil })
	if len(got) == 0 || got[len(got)-1].GetVaultAppended() == nil {
		t.Fatalf("bob's stream did not reach the vault event: %v", got)
	}
	for _, ev := range got {
		if ev.GetEmergencyAppended() != nil {
			t.Fatal("a contributor was pushed the emergency")
		}
	}
}
