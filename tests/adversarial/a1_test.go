package adversarial

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/tests/hostile"
)

// encodings are the forms a secret could leak in.
func encodings(secret []byte) [][]byte {
	return [][]byte{
		secret,
		[]byte(base64.StdEncoding.EncodeToString(secret)),
		[]byte(base64.RawStdEncoding.EncodeToString(secret)),
		[]byte(base64.RawURLEncoding.EncodeToString(secret)),
		[]byte(hex.EncodeToString(secret)),
	}
}

// TestA1DeviceKeysNeverFromServer: device keys live only in device.age,
// encrypted under the passphrase; they never travel to or from the server,
// and a server that rewrites what it answers can't change which keys the
// client trusts or uses (SECURITY.md A1, SPEC.md §2.6).
func TestA1DeviceKeysNeverFromServer(t *testing.T) {
	t.Parallel()
	s := hostile.Start(t)
	d := dirs(t, "admin", "laptop", "phone")
	rec := s.Record()
	admin := hostile.Bootstrap(t, s, d["admin"])
	// A second device of the same user: the user's seal key goes to it
	// through the enrolment channel.
	laptop := hostile.Enrol(t, admin, d["laptop"], "device", "", 0)
	s.StopRecording()
	org := admin.Identity().OrganisationID
	keys, laptopKeys := hostile.ReadDevice(t, d["admin"]), hostile.ReadDevice(t, d["laptop"])
	secrets := map[string][]byte{
		"admin signing seed": keys.SigningKey.Bytes()[1:],
		"user seal seed":     keys.SealKey.Bytes()[1:],
		"admin state key":    keys.StateKey[1:],
		"laptop signing key": laptopKeys.SigningKey.Bytes()[1:],
		"laptop state key":   laptopKeys.StateKey[1:],
	}
	if !bytes.Equal(keys.SealKey.Bytes(), laptopKeys.SealKey.Bytes()) {
		t.Fatal("the laptop did not receive its user's seal key")
	}

	// The key file is an age passphrase file; nothing in it is in clear.
	keyFile, err := os.ReadFile(filepath.Join(d["admin"], "device.age"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(keyFile, []byte("age-encryption.org/v1\n-> scrypt ")) {
		t.Fatalf("device.age is not an age scrypt file: %q", keyFile[:min(40, len(keyFile))])
	}
	for _, marker := range []string{"signing_key", "seal_key", "state_key", org, keys.DeviceID} {
		if bytes.Contains(keyFile, []byte(marker)) {
			t.Errorf("device.age holds %q in clear", marker)
		}
	}
	for name, secret := range secrets {
		for _, enc := range encodings(secret) {
			if bytes.Contains(keyFile, enc) {
				t.Errorf("device.age holds the %s in clear", name)
			}
		}
	}
	if _, err := client.Open(bg(), d["admin"], []byte("not the passphrase")); err == nil {
		t.Fatal("a wrong passphrase opened the device")
	} else {
		wantErr(t, err, crypto.ErrWrongPassphrase)
	}

	// Nothing key-bearing crossed the wire, either way, during bootstrap,
	// invitation and a device enrolment that handed over the seal key.
	calls := rec.Calls()
	sawConfirmation := false
	for _, c := range calls {
		for _, m := range []proto.Message{c.Request, c.Response} {
			if m == nil {
				continue
			}
			b, _ := proto.Marshal(m)
			for name, secret := range secrets {
				for _, enc := range encodings(secret) {
					if bytes.Contains(b, enc) {
						t.Errorf("%s: the %s crossed the wire in clear", c.Method, name)
					}
				}
			}
		}
		if r, ok := c.Request.(*coffrev1.RelayPostRequest); ok && r.Side == coffrev1.RelaySide_RELAY_SIDE_GREETER && r.Step == 5 {
			sawConfirmation = true
		}
	}
	if len(calls) < 10 || !sawConfirmation {
		t.Fatalf("recorded %d calls, confirmation seen: %v: the check above saw too little", len(calls), sawConfirmation)
	}

	// A device rebuilding its state from the root key (state.db removed)
	// is offered its own device certificate with another key: refused.
	laptop.Close()
	admin.Close()
	if err := os.Remove(filepath.Join(d["admin"], "state.db")); err != nil {
		t.Fatal(err)
	}
	keyFileBefore := keyFile
	admin = hostile.Open(t, d["admin"])
	zero := admin.Head()
	if zero.Position != 0 {
		t.Fatalf("fresh state at %d", zero.Position)
	}
	attacker := newSigningKey(t)
	stored := s.Log(t, org)
	swapKey := func(b *coffrev1.Certificate) { b.GetDevice().VerifyKey = attacker.Public().Bytes() }
	for name, forged := range map[string][]byte{
		"signature kept":           mutate(t, stored[1], nil, swapKey),
		"signed by attacker key":   mutate(t, stored[1], attacker, swapKey),
		"laptop's key substituted": mutate(t, stored[2], attacker, swapKey),
	} {
		t.Run(name, func(t *testing.T) {
			pos := uint64(2)
			if name == "laptop's key substituted" {
				pos = 3
			}
			serveReplaced(s, map[uint64][]byte{pos: forged})
			err := admin.Sync(bg())
			wantErr(t, err, client.ErrBadLog)
			wantCause(t, err, certificate.ErrSignature)
			if got := admin.Head(); !sameHead(got, zero) {
				t.Fatalf("head moved to %d", got.Position)
			}
			for _, dev := range []string{keys.DeviceID, laptopKeys.DeviceID} {
				if _, ok := admin.Organisation().Device(dev); ok {
					t.Fatal("a device from the refused log is in the verified state")
				}
			}
		})
	}

	// A whole organisation made up with the server's own root key.
	fakeRoot := newSigningKey(t)
	fake := certificate.NewOrganisation(org, fakeRoot.Public())
	fakeLog := signNext(t, fake, fakeRoot, "",
		certificate.UserCreated{UserID: keys.UserID, Name: "Admin", Email: "admin@example.org", Profile: certificate.ProfileAdmin, SealKey: newSealKey(t).Public()},
		certificate.DeviceAdded{DeviceID: keys.DeviceID, UserID: keys.UserID, Label: "admin-laptop", VerifyKey: attacker.Public()},
	)
	serveReplaced(s, map[uint64][]byte{1: fakeLog[0], 2: fakeLog[1]})
	err = admin.Sync(bg())
	wantErr(t, err, certificate.ErrFork) // entry 1 does not extend genesis(organisation, root from the link)
	wantCause(t, err, certificate.ErrChain)
	if !sameHead(admin.Head(), zero) {
		t.Fatal("head moved")
	}

	// Meanwhile the client signs with its own key, which the (honest part
	// of the) server still verifies against the genuine certificate.
	if _, err := admin.Invitations(bg()); err != nil {
		t.Fatalf("the client no longer signs with its own key: %v", err)
	}
	admin = unchanged(t, admin, d["admin"], zero)

	// Honest again: the verified key is the one in the key file.
	s.ClearHooks()
	mustSync(t, admin)
	dev, ok := admin.Organisation().Device(keys.DeviceID)
	if !ok || !dev.VerifyKey.Equal(keys.SigningKey.Public()) {
		t.Fatal("the verified device key is not the device's own")
	}
	me, _ := admin.Me()
	if me == nil || !me.SealKey.Equal(keys.SealKey.Public()) {
		t.Fatal("the verified seal key is not the user's own")
	}
	after, err := os.ReadFile(filepath.Join(d["admin"], "device.age"))
	if err != nil || !bytes.Equal(after, keyFileBefore) {
		t.Fatal("the key file changed")
	}

	// A claimer shown its own device certificate with the server's key
	// instead of the one it generated: no device is left behind.
	l, inv := hostile.Invite(t, admin, "device", "", 0)
	s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
		if method != coffrev1.CoffreService_GetLog_FullMethodName || err != nil || req.(*coffrev1.GetLogRequest).GetFrom() != 1 {
			return resp, err
		}
		entries := resp.(*coffrev1.GetLogResponse).Entries
		last := entries[len(entries)-1]
		last.Data = mutateNoT(last.Data, attacker, swapKey)
		return resp, nil
	})
	res := hostile.RunEnrolment(t, admin, l, inv, d["phone"], hostile.EnrolOptions{})
	wantErr(t, res.ClaimErr, client.ErrBadLog)
	if res.Session != nil || client.HasDevice(d["phone"]) {
		t.Fatal("a device was left after a refused log")
	}
	if _, err := os.Stat(filepath.Join(d["phone"], "state.db")); err == nil {
		t.Fatal("a state file was left after a refused log")
	}
}

// mutateNoT is mutate for use inside a rewriter (no *testing.T there):
// it panics on malformed input, which the test controls.
func mutateNoT(data []byte, key interface {
	Sign(string, []byte) []byte
}, change func(*coffrev1.Certificate)) []byte {
	var signed coffrev1.SignedCertificate
	var body coffrev1.Certificate
	if proto.Unmarshal(data, &signed) != nil || proto.Unmarshal(signed.Body, &body) != nil {
		panic("mutateNoT: not a certificate")
	}
	change(&body)
	b, err := deterministic.Marshal(&body)
	if err != nil {
		panic(err)
	}
	out, err := deterministic.Marshal(&coffrev1.SignedCertificate{Body: b, Signature: key.Sign("certificate", b)})
	if err != nil {
		panic(err)
	}
	return out
}
