package client

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/link"
)

func testKeys(t *testing.T) *deviceKeys {
	t.Helper()
	sk, err := crypto.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	seal, _ := crypto.GenerateSealKey()
	l := link.Link{Kind: link.KindOrganisation, Address: "localhost:1", OrganisationID: "org12345", Root: sk.Public()}
	return &deviceKeys{OrganisationLink: l.String(), UserID: "user1234", DeviceID: "device12", DeviceLabel: "pc",
		SigningKey: sk, SealKey: seal, StateKey: crypto.NewSecretKey()}
}

// TestKeyFileVersions: a version 2 key file keeps the device's seal key
// and the user's older seal keys (SPEC.md §2.6); a version 1 file, written
// before them, is still read, with neither.
func TestKeyFileVersions(t *testing.T) {
	old := crypto.ScryptWorkFactor
	crypto.ScryptWorkFactor = 10
	t.Cleanup(func() { crypto.ScryptWorkFactor = old })
	pass := []byte("a passphrase")
	keys := testKeys(t)
	keys.DeviceSealKey, _ = crypto.GenerateSealKey()
	past, _ := crypto.GenerateSealKey()
	keys.SealKeyHistory = []pastSealKey{{Key: past, ReplacedAt: 7}}
	path := filepath.Join(t.TempDir(), "device.age")
	if err := writeKeyFile(path, keys, pass); err != nil {
		t.Fatal(err)
	}
	got, err := readKeyFile(path, pass)
	if err != nil {
		t.Fatal(err)
	}
	if got.DeviceSealKey == nil || !got.DeviceSealKey.Public().Equal(keys.DeviceSealKey.Public()) ||
		len(got.SealKeyHistory) != 1 || got.SealKeyHistory[0].ReplacedAt != 7 || !got.SealKeyHistory[0].Key.Public().Equal(past.Public()) {
		t.Fatal("version 2 does not keep the device seal key and the history")
	}

	v1 := testKeys(t)
	content, _ := json.Marshal(map[string]any{
		"version": 1, "organisation_link": v1.OrganisationLink, "user_id": v1.UserID, "device_id": v1.DeviceID,
		"device_label": v1.DeviceLabel, "signing_key": v1.SigningKey.Bytes(), "seal_key": v1.SealKey.Bytes(), "state_key": v1.StateKey.Bytes(),
	})
	sealed, err := crypto.EncryptWithPassphrase(pass, content)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(path, sealed, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err = readKeyFile(path, pass)
	if err != nil {
		t.Fatalf("a version 1 key file: %v", err)
	}
	if got.DeviceSealKey != nil || got.SealKeyHistory != nil || !got.SealKey.Public().Equal(v1.SealKey.Public()) {
		t.Fatal("a version 1 key file is read with keys it does not hold")
	}
}
