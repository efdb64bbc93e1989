package client

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
)

// Recovery files (SPEC.md §15.5): a recovery device of the user, enrolled
// like any other device and written to a file encrypted under a random
// secret shown once. Whoever holds both enrols a new device of that user
// on their own, the recovery device signing its certificate.

var (
	// ErrRecoverySecretMistyped: the secret's check character does not
	// match: a typing mistake, nothing was tried.
	ErrRecoverySecretMistyped = errors.New("the recovery secret is mistyped (its check character does not match): type it again")
	// ErrWrongRecoverySecret: the secret is well formed but does not open
	// this recovery file.
	ErrWrongRecoverySecret = errors.New("this recovery secret does not open this recovery file")
	// ErrRecoveryRevoked: the recovery file's device was revoked; it can
	// enrol nothing.
	ErrRecoveryRevoked = errors.New("this recovery file's device has been revoked: it can't enrol a new device")
)

// recoverySecretBytes is the secret's entropy: 18 bytes, 144 bits, 29
// base32 characters, plus one check character.
const recoverySecretBytes = 18

var recoveryEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newRecoverySecret returns a random secret as shown to the person: 30
// characters in six groups of five, the last one a check character.
func newRecoverySecret() string {
	body := recoveryEncoding.EncodeToString(crypto.RandomBytes(recoverySecretBytes))
	return groupSecret(body + recoveryCheck(body))
}

func recoveryCheck(body string) string {
	sum := sha256.Sum256([]byte("coffre/v1/recovery-secret-check\x00" + body))
	return string(recoveryAlphabet[sum[0]&31])
}

const recoveryAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

func groupSecret(s string) string {
	var groups []string
	for len(s) > 5 {
		groups = append(groups, s[:5])
		s = s[5:]
	}
	return strings.Join(append(groups, s), "-")
}

// parseRecoverySecret normalises what the person typed (case, spaces,
// dashes, the digits 0, 1 and 8 read as O, I and B) and checks the check
// character. The result is the passphrase of the recovery file.
func parseRecoverySecret(typed string) ([]byte, error) {
	s := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '\t', '\n', '\r':
			return -1
		case '0':
			return 'O'
		case '1':
			return 'I'
		case '8':
			return 'B'
		}
		return r
	}, strings.ToUpper(typed))
	body, check := "", ""
	if len(s) == 30 {
		body, check = s[:29], s[29:]
	}
	if body == "" || strings.Trim(s, recoveryAlphabet) != "" || recoveryCheck(body) != check {
		return nil, ErrRecoverySecretMistyped
	}
	return []byte(body), nil
}

// ExportRecovery enrols a recovery device of this user and writes it to
// path (which must not exist), encrypted under a new random secret that it
// returns: the only time the secret exists outside the person's hands.
func (s *Session) ExportRecovery(ctx context.Context, path string) (secret string, _ *certificate.Device, err error) {
	if _, err := os.Lstat(path); err == nil {
		return "", nil, fmt.Errorf("%s already exists: choose another file", path)
	}
	keys, err := s.newRecoveryDevice("recovery")
	if err != nil {
		return "", nil, err
	}
	secret = newRecoverySecret()
	pass, _ := parseRecoverySecret(secret)
	if err := writeKeyFile(path, keys, pass); err != nil {
		return "", nil, err
	}
	err = s.publish(ctx, "", func() ([]certificate.Statement, error) {
		return []certificate.Statement{keys.deviceAdded()}, nil
	})
	if err != nil {
		os.Remove(path) // a file whose device is not enrolled would open nothing
		return "", nil, err
	}
	d, _ := s.org.Device(keys.DeviceID)
	return secret, d, nil
}

// newRecoveryDevice makes the keys of a new recovery device of this user,
// labelled with what and today's date: its own signing and seal keys, the
// user's newest seal key and the older ones this device holds (SPEC.md
// §15.2, §15.5).
func (s *Session) newRecoveryDevice(what string) (*deviceKeys, error) {
	current := s.currentSealKey()
	if current == nil {
		return nil, errNotRotatedHere
	}
	sk, err := crypto.GenerateSigningKey()
	if err != nil {
		return nil, err
	}
	keys := &deviceKeys{
		OrganisationLink: s.keys.OrganisationLink, OrganisationName: s.keys.OrganisationName,
		UserID: s.keys.UserID, DeviceID: certificate.NewID(),
		DeviceLabel: what + " " + time.Now().UTC().Format("2006-01-02"),
		SigningKey:  sk, SealKey: current, StateKey: crypto.NewSecretKey(),
		SealKeyHistory: s.sealKeyHistory(),
	}
	if keys.DeviceSealKey, err = newDeviceSealKey(); err != nil {
		return nil, err
	}
	return keys, nil
}

// deviceAdded is the certificate statement that enrols the device k.
func (k *deviceKeys) deviceAdded() certificate.DeviceAdded {
	return certificate.DeviceAdded{DeviceID: k.DeviceID, UserID: k.UserID, Label: k.DeviceLabel,
		VerifyKey: k.SigningKey.Public(), SealKey: k.DeviceSealKey.Public()}
}

// ImportRecovery opens a recovery file with its secret and enrols a new
// device of its user in dir, signed by the recovery device, with the
// user's keys and a key file under passphrase. The recovery device stays
// enrolled (revoke it, and export a new file, once the new device works).
func ImportRecovery(ctx context.Context, file, typedSecret, dir, label string, passphrase []byte) (*Session, error) {
	if HasDevice(dir) {
		return nil, ErrAlreadyEnrolled
	}
	if err := checkNewPassphrase(passphrase); err != nil {
		return nil, err
	}
	pass, err := parseRecoverySecret(typedSecret)
	if err != nil {
		return nil, err
	}
	rec, err := readKeyFile(file, pass)
	if errors.Is(err, crypto.ErrWrongPassphrase) {
		return nil, ErrWrongRecoverySecret
	}
	if err != nil {
		return nil, err
	}
	return importRecovery(ctx, rec, dir, label, passphrase, nil)
}

// importRecovery enrols a new device in dir, signed by the recovery device
// rec, once check (if not nil) accepts the log the recovery device
// verified.
func importRecovery(ctx context.Context, rec *deviceKeys, dir, label string, passphrase []byte, check func(*certificate.Organisation) error) (*Session, error) {
	// The recovery device's own state lives only as long as the import.
	tmp, err := os.MkdirTemp("", "coffre-recovery-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	rs, err := openWithKeys(tmp, rec)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	if err := rs.Sync(ctx); err != nil {
		if IsRevokedAnswer(err) {
			return nil, ErrRecoveryRevoked
		}
		return nil, err
	}
	_, u, err := rs.org.ActiveDevice(rec.DeviceID)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRecoveryRevoked, err)
	}
	// The user's newest key: the file's, or one a rotation since sealed
	// to the recovery device (SPEC.md §15.2).
	current := rs.currentSealKey()
	if current == nil || !u.SealKey.Equal(current.Public()) {
		return nil, fmt.Errorf("%w: the user's keys in the log are not the ones in the recovery file", ErrBadLog)
	}
	if check != nil {
		if err := check(rs.org); err != nil {
			return nil, err
		}
	}
	sk, err := crypto.GenerateSigningKey()
	if err != nil {
		return nil, err
	}
	if label == "" {
		label = defaultDeviceLabel()
	}
	keys := &deviceKeys{
		OrganisationLink: rec.OrganisationLink, OrganisationName: rec.OrganisationName,
		UserID: rec.UserID, DeviceID: certificate.NewID(), DeviceLabel: label,
		SigningKey: sk, SealKey: current, StateKey: crypto.NewSecretKey(),
		SealKeyHistory: rs.sealKeyHistory(),
	}
	if keys.DeviceSealKey, err = newDeviceSealKey(); err != nil {
		return nil, err
	}
	err = rs.publish(ctx, "", func() ([]certificate.Statement, error) {
		return []certificate.Statement{keys.deviceAdded()}, nil
	})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := writeKeyFile(keyFilePath(dir), keys, passphrase); err != nil {
		return nil, err
	}
	s, err := openWithKeys(dir, keys)
	if err != nil {
		return nil, err
	}
	if err := s.Sync(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}
