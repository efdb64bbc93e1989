package adversarial

import (
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
)

// TestA47NoExtensionPastTheEnd: an invocation ends at most the policy's
// duration after its own signed time. A longer end, one back-dated into the
// server's skew window so that it ends later than now + duration, one
// dated before the previous certificate, a second invocation while one
// runs and a replay of the first are all refused by the server and by
// every client (SECURITY.md A47, SPEC.md §16.3).
func TestA47NoExtensionPastTheEnd(t *testing.T) {
	t.Parallel()
	w := emergencyWorld(t, time.Hour, "")
	now := time.Now()
	inv := func(signed, until time.Time) [][]byte {
		return w.signAs(t, "carol", signed, certificate.EmergencyInvoked{VaultID: w.vault, Reason: "extend me", Until: until})
	}
	{ // longer end
		w.refusedEverywhere(t, "carol", inv(now, now.Add(time.Hour+time.Minute)), "alice")
	}
	{ // back-dated in the skew window
		w.refusedEverywhere(t, "carol", inv(now.Add(-2*time.Minute), now.Add(time.Hour)), "alice")
	}
	{ // dated before the previous certificate
		w.refusedEverywhere(t, "carol", inv(now.Add(-2*time.Hour), now.Add(-time.Hour)), "alice")
	}
	if _, err := w.sess["carol"].InvokeEmergency(bg(), w.vault, "first"); err != nil {
		t.Fatal(err)
	}
	{ // second while one runs
		_, err := w.sess["carol"].InvokeEmergency(bg(), w.vault, "again")
		wantErr(t, err, client.ErrAlreadyMember)
		w.refusedEverywhere(t, "carol", inv(time.Now(), time.Now().Add(time.Hour)), "alice")
	}
	{ // replayed
		// The invocation is the newest certificate of the log.
		certs := w.s.Log(t, w.org)
		first := certs[len(certs)-1]
		if err := w.appendAs(t, "carol", [][]byte{first}); err == nil {
			t.Fatal("the server took a replayed invocation")
		}
		mustSync(t, w.sess["alice"])
		h := w.sess["alice"].Head()
		serveExtra(w.s, first)
		err := w.sess["alice"].Sync(bg())
		w.s.ClearHooks()
		wantErr(t, err, certificate.ErrChain) // its signed position and previous hash are the first place's
		w.sess["alice"] = unchanged(t, w.sess["alice"], w.dir["alice"], h)
	}
}

// TestA47AccessEndsAndKeyRotates: at the end the server stops serving the
// invoker at once, and the next owner working in the vault rotates its
// key to who remains, so nothing written afterwards opens with the key
// Carol was given (SECURITY.md A47, A16).
func TestA47AccessEndsAndKeyRotates(t *testing.T) {
	t.Parallel()
	w := emergencyWorld(t, 3*time.Second, "")
	e, err := w.sess["carol"].InvokeEmergency(bg(), w.vault, "short emergency")
	if err != nil {
		t.Fatal(err)
	}
	// The end is the policy's duration after the moment the client took
	// before signing; the certificate's own time may be a millisecond or
	// so later, never earlier (which would extend it).
	if d := e.Until.Sub(e.Start); d > 3*time.Second || d < 2*time.Second {
		t.Fatalf("an emergency of %s, want 3s (a few ms less at most)", d)
	}
	w.open(t, "bob") // releases
	get(t, w.open(t, "carol"), "/chart.txt")
	time.Sleep(time.Until(e.Until) + 200*time.Millisecond)

	mustSync(t, w.sess["carol"])
	if _, _, err := w.sess["carol"].PrepareVault(bg(), w.vault); err == nil {
		t.Fatal("carol opened the vault after her emergency ended")
	}
	mustSync(t, w.sess["alice"])
	_, done, err := w.sess["alice"].PrepareVault(bg(), w.vault)
	if err != nil || !done.Rotated {
		t.Fatalf("alice's upkeep after the end: %+v, %v", done, err)
	}
	v, _ := w.sess["alice"].Organisation().Vault(w.vault)
	for _, k := range v.Keys[len(v.Keys)-1].Sealed {
		if k.UserID == w.user("carol") {
			t.Fatal("the new key is sealed to carol")
		}
	}
}
