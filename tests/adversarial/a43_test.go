package adversarial

import (
	"testing"

	"github.com/coffre/coffre/certificate"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// TestA43RevocationWithheld: a server that hides a device revocation from
// a device that already verified it is caught (a rollback, nothing
// forgotten); hiding it from one that never saw it means hiding every
// entry after it too, and the revoking device's next change no longer
// extends what the others are shown (SPEC.md §15, SECURITY.md A43).
func TestA43RevocationWithheld(t *testing.T) {
	t.Parallel()
	w := newDeviceWorld(t)
	before := w.carol.Head()
	if _, err := w.bob.RevokeDevice(bg(), w.laptopKeys.DeviceID); err != nil {
		t.Fatal(err)
	}
	mustSync(t, w.admin)
	seen := w.admin.Head()

	// The server now shows everyone the log as it was before.
	w.s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
		if method != coffrev1.CoffreService_GetLog_FullMethodName || err != nil {
			return resp, err
		}
		r := resp.(*coffrev1.GetLogResponse)
		var kept []*coffrev1.LogEntry
		for _, e := range r.Entries {
			if e.Position <= before.Position {
				kept = append(kept, e)
			}
		}
		r.Entries, r.HeadPosition = kept, before.Position
		return r, nil
	})
	// The admin verified the revocation: the shorter log is a rollback,
	// and the revocation stays in its state.
	wantErr(t, w.admin.Sync(bg()), certificate.ErrRollback)
	r := unchanged(t, w.admin, w.d["admin"], seen)
	if d, _ := r.Organisation().Device(w.laptopKeys.DeviceID); !d.Revoked() {
		t.Errorf("the admin forgot the revocation")
	}
	// Carol never saw it: she can't tell (what holds is said in SPEC §15),
	// and her view stays at the head before it.
	mustSync(t, w.carol)
	if got := w.carol.Head(); !sameHead(got, before) {
		t.Errorf("Carol's head %d, want %d", got.Position, before.Position)
	}
	// Bob's desktop, which wrote it, is shown a log without it: a rollback.
	wantErr(t, w.bob.Sync(bg()), certificate.ErrRollback)
}
