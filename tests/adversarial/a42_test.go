package adversarial

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/wire"
)

// TestA42ForgedRevocationWipesNothing: the server alone can't make a
// device erase its data. A server that answers "this device is revoked"
// with no revocation in the log, or with a forged one, gets nothing
// erased; only a revocation that verifies in the device's own log wipes
// (SPEC.md §15, SECURITY.md A42).
func TestA42ForgedRevocationWipesNothing(t *testing.T) {
	t.Parallel()
	w := newDeviceWorld(t)
	// The server refuses the laptop as revoked, but its log says nothing.
	w.s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
		if method == coffrev1.CoffreService_Hello_FullMethodName {
			return nil, wire.ErrDeviceRevoked
		}
		return resp, err
	})
	_, _, err := w.laptop.Hello(bg())
	if !client.IsRevokedAnswer(err) {
		t.Fatalf("Hello: %v, want the revoked answer", err)
	}
	if r, err := w.laptop.CheckRevoked(bg()); err != nil || r != nil {
		t.Fatalf("CheckRevoked on a log without a revocation: %+v, %v; want nil, nil", r, err)
	}
	if _, err := w.laptop.Wipe(bg()); !errors.Is(err, client.ErrNotRevoked) {
		t.Fatalf("Wipe: %v, want ErrNotRevoked", err)
	}
	wantIntact(t, w.d["laptop"])

	// A forged revocation (signed by an attacker's key as Bob's desktop).
	org := w.s.LogState(t, w.laptopKeys.OrganisationID)
	forged := signNext(t, org, newSigningKey(t), w.bobKeys.DeviceID, certificate.DeviceRevoked{DeviceID: w.laptopKeys.DeviceID})
	serveExtra(w.s, forged...)
	if r, err := w.laptop.CheckRevoked(bg()); err == nil || r != nil {
		t.Fatalf("CheckRevoked on a forged revocation: %+v, %v; want an error", r, err)
	}
	if _, err := w.laptop.Wipe(bg()); !errors.Is(err, client.ErrNotRevoked) {
		t.Fatalf("Wipe after a forged revocation: %v, want ErrNotRevoked", err)
	}
	wantIntact(t, w.d["laptop"])
	w.s.ClearHooks()

	// A real one wipes the state, the cache and the key file.
	if _, err := w.bob.RevokeDevice(bg(), w.laptopKeys.DeviceID); err != nil {
		t.Fatal(err)
	}
	r, err := w.laptop.CheckRevoked(bg())
	if err != nil || r == nil || r.User {
		t.Fatalf("CheckRevoked after the revocation: %+v, %v", r, err)
	}
	if _, err := w.laptop.Wipe(bg()); err != nil {
		t.Fatalf("Wipe: %v", err)
	}
	for _, f := range []string{"device.age", "state.db", "cache"} {
		if _, err := os.Stat(filepath.Join(w.d["laptop"], f)); !os.IsNotExist(err) {
			t.Errorf("%s survived the wipe: %v", f, err)
		}
	}
}

// wantIntact checks the device's key file and state are still there.
func wantIntact(t *testing.T, dir string) {
	t.Helper()
	for _, f := range []string{"device.age", "state.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s was erased on the server's word: %v", f, err)
		}
	}
}
