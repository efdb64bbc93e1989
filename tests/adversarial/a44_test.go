package adversarial

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/tests/hostile"
)

// TestA44RecoveryFile: a recovery file is a device of its user and no
// more. Without its secret it opens nothing and names nothing; its device
// can enrol a device for its own user only (a certificate it signs for
// another user is refused by the clients and the server); once revoked it
// enrols nothing (SPEC.md §15.5, SECURITY.md A44).
func TestA44RecoveryFile(t *testing.T) {
	t.Parallel()
	w := newDeviceWorld(t)
	file := filepath.Join(t.TempDir(), "bob.recovery")
	secret, rec, err := w.bob.ExportRecovery(bg(), file)
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := os.ReadFile(file)
	for _, clear := range []string{w.bobKeys.UserID, w.bobKeys.OrganisationID, rec.ID, "bob@example.org"} {
		if bytes.Contains(sealed, []byte(clear)) {
			t.Errorf("the recovery file shows %q in clear", clear)
		}
	}
	// Another well-formed secret opens nothing.
	_, _, err = w.carol.ExportRecovery(bg(), filepath.Join(t.TempDir(), "carol.recovery"))
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := w.carol.ExportRecovery(bg(), filepath.Join(t.TempDir(), "carol2.recovery"))
	if _, err := client.ImportRecovery(bg(), file, other, t.TempDir()+"/x", "x", hostile.Passphrase); !errors.Is(err, client.ErrWrongRecoverySecret) {
		t.Errorf("import with another file's secret: %v, want ErrWrongRecoverySecret", err)
	}

	// The recovery device's key signs a device for Carol: refused.
	recKeys := recoveryKeys(t, sealed, secret, rec.ID)
	org := w.s.LogState(t, w.bobKeys.OrganisationID)
	forged := signNext(t, org, recKeys, rec.ID, certificate.DeviceAdded{
		DeviceID: certificate.NewID(), UserID: w.carolK.UserID, Label: "evil", VerifyKey: newSigningKey(t).Public(),
	})
	if _, err := w.s.Dial(t, &hostile.Signer{OrganisationID: w.bobKeys.OrganisationID, DeviceID: rec.ID, Key: recKeys}).AppendCertificates(bg(), &coffrev1.AppendCertificatesRequest{Certificates: forged}); err == nil {
		t.Errorf("the server accepted a device for Carol signed by Bob's recovery device")
	}
	head := w.admin.Head()
	serveExtra(w.s, forged...)
	wantErr(t, w.admin.Sync(bg()), client.ErrBadLog)
	unchanged(t, w.admin, w.d["admin"], head)
	w.s.ClearHooks()

	// Revoked, it enrols nothing.
	if _, err := w.bob.RevokeDevice(bg(), rec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := client.ImportRecovery(bg(), file, secret, filepath.Join(t.TempDir(), "new"), "new", hostile.Passphrase); !errors.Is(err, client.ErrRecoveryRevoked) {
		t.Errorf("import of a revoked recovery file: %v, want ErrRecoveryRevoked", err)
	}
}

// recoveryKeys opens a recovery file as its holder would, with the secret
// (the file's passphrase is the secret without dashes nor check character,
// SPEC.md §15.5), and returns the recovery device's signing key.
func recoveryKeys(t *testing.T, sealed []byte, secret, deviceID string) *crypto.SigningKey {
	t.Helper()
	pass := strings.ReplaceAll(secret, "-", "")[:29]
	plain, err := crypto.DecryptWithPassphrase([]byte(pass), sealed)
	if err != nil {
		t.Fatalf("opening the recovery file with its secret: %v", err)
	}
	var c struct {
		DeviceID   string `json:"device_id"`
		SigningKey []byte `json:"signing_key"`
	}
	if err := json.Unmarshal(plain, &c); err != nil || c.DeviceID != deviceID {
		t.Fatalf("recovery file content: %v (device %q, want %q)", err, c.DeviceID, deviceID)
	}
	k, err := crypto.ParseSigningKey(c.SigningKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
