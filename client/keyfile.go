package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"unicode/utf8"

	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/link"
)

// keyFileVersion is the format version of the device key file's content.
// 2 adds the device's own seal key and the user's older seal keys (SPEC.md
// §2.6, §15.2); a version 1 file is still read.
const keyFileVersion = 2

// deviceKeys is what the device key file holds, encrypted under the
// passphrase (SPEC.md §2.6 and §9). Device keys never come from the server
// (SECURITY.md A1): they are made on this device or, for a second device,
// handed over inside the enrolment channel.
type deviceKeys struct {
	OrganisationLink string // without secrets: address, organisation, root key, TLS pin
	OrganisationName string
	UserID           string
	DeviceID         string
	DeviceLabel      string
	SigningKey       *crypto.SigningKey
	SealKey          *crypto.SealKey
	StateKey         crypto.SecretKey // encrypts the local state file
	// DeviceSealKey is this device's own seal key, that a rotated user key
	// is sealed to (SPEC.md §15.2); nil for a device enrolled without one.
	DeviceSealKey *crypto.SealKey
	// SealKeyHistory are user seal keys older than SealKey that this
	// device could not take from the log (a recovery file exported after
	// a rotation, §15.5): each opens what was sealed before ReplacedAt.
	SealKeyHistory []pastSealKey
}

// pastSealKey is a user seal key replaced at log position ReplacedAt.
type pastSealKey struct {
	Key        *crypto.SealKey
	ReplacedAt uint64
}

type pastSealKeyContent struct {
	Key        []byte `json:"key"`
	ReplacedAt uint64 `json:"replaced_at"`
}

// keyFileContent is the serialised form: raw key bytes, never printed.
type keyFileContent struct {
	Version          int    `json:"version"`
	OrganisationLink string `json:"organisation_link"`
	OrganisationName string `json:"organisation_name"`
	UserID           string `json:"user_id"`
	DeviceID         string `json:"device_id"`
	DeviceLabel      string `json:"device_label"`
	SigningKey       []byte `json:"signing_key"`
	SealKey          []byte `json:"seal_key"`
	StateKey         []byte `json:"state_key"`
	// Version 2.
	DeviceSealKey      []byte               `json:"device_seal_key,omitempty"`
	UserSealKeyHistory []pastSealKeyContent `json:"user_seal_key_history,omitempty"`
}

func (k *deviceKeys) link() link.Link {
	l, err := link.Parse(k.OrganisationLink)
	if err != nil {
		panic("coffre: internal error: key file holds a bad link: " + err.Error())
	}
	return l
}

// writeKeyFile encrypts keys under the passphrase and writes them
// atomically: a crash leaves the old file or the new one, never half.
func writeKeyFile(path string, keys *deviceKeys, passphrase []byte) error {
	c := keyFileContent{
		Version:          keyFileVersion,
		OrganisationLink: keys.OrganisationLink,
		OrganisationName: keys.OrganisationName,
		UserID:           keys.UserID,
		DeviceID:         keys.DeviceID,
		DeviceLabel:      keys.DeviceLabel,
		SigningKey:       keys.SigningKey.Bytes(),
		SealKey:          keys.SealKey.Bytes(),
		StateKey:         keys.StateKey.Bytes(),
	}
	if keys.DeviceSealKey != nil {
		c.DeviceSealKey = keys.DeviceSealKey.Bytes()
	}
	for _, h := range keys.SealKeyHistory {
		c.UserSealKeyHistory = append(c.UserSealKeyHistory, pastSealKeyContent{Key: h.Key.Bytes(), ReplacedAt: h.ReplacedAt})
	}
	content, err := json.Marshal(c)
	if err != nil {
		return err
	}
	sealed, err := crypto.EncryptWithPassphrase(passphrase, content)
	if err != nil {
		return fmt.Errorf("encrypting the device key file: %w", err)
	}
	return writeFileAtomic(path, sealed, 0o600)
}

// freeAfterWorkFactor is the scrypt work factor from which opening a key
// file gives scrypt's memory back at once: 2^16 × 1 KiB, 64 MiB.
const freeAfterWorkFactor = 16

// readKeyFile opens the device key file with the passphrase.
func readKeyFile(path string, passphrase []byte) (*deviceKeys, error) {
	sealed, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoDevice
	}
	if err != nil {
		return nil, fmt.Errorf("reading device key file %s: %w", path, err)
	}
	content, err := crypto.DecryptWithPassphrase(passphrase, sealed)
	// scrypt just used 256 MiB (work factor 18): give it back before any
	// transfer starts, so a long put or get doesn't carry it as headroom.
	// A cheap file's scrypt (tests, the bench) used too little to be worth
	// a collection, which costs in proportion to the heap, not to scrypt.
	if wf, ok := crypto.PassphraseWorkFactor(sealed); !ok || wf >= freeAfterWorkFactor {
		debug.FreeOSMemory() // a collection, then the memory given back
	}
	if errors.Is(err, crypto.ErrWrongPassphrase) {
		return nil, crypto.ErrWrongPassphrase
	}
	if err != nil {
		return nil, fmt.Errorf("device key file %s is damaged: %w", path, err)
	}
	var c keyFileContent
	if err := json.Unmarshal(content, &c); err != nil || c.Version < 1 || c.Version > keyFileVersion {
		return nil, fmt.Errorf("device key file %s is damaged or of an unknown version", path)
	}
	k := &deviceKeys{
		OrganisationLink: c.OrganisationLink, OrganisationName: c.OrganisationName,
		UserID: c.UserID, DeviceID: c.DeviceID, DeviceLabel: c.DeviceLabel,
	}
	errs := make([]error, 5, 5+len(c.UserSealKeyHistory))
	k.SigningKey, errs[0] = crypto.ParseSigningKey(c.SigningKey)
	k.SealKey, errs[1] = crypto.ParseSealKey(c.SealKey)
	k.StateKey, errs[2] = crypto.ParseSecretKey(c.StateKey)
	_, errs[3] = link.Parse(c.OrganisationLink)
	if c.DeviceSealKey != nil {
		k.DeviceSealKey, errs[4] = crypto.ParseSealKey(c.DeviceSealKey)
	}
	for _, h := range c.UserSealKeyHistory {
		key, err := crypto.ParseSealKey(h.Key)
		errs = append(errs, err)
		k.SealKeyHistory = append(k.SealKeyHistory, pastSealKey{Key: key, ReplacedAt: h.ReplacedAt})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("device key file %s is damaged: %w", path, err)
	}
	return k, nil
}

// writeFileAtomic writes to a temporary file in the same directory, syncs
// it, renames it over path and syncs the directory.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func keyFilePath(dir string) string { return filepath.Join(dir, "device.age") }

// HasDevice reports whether dir holds a device.
func HasDevice(dir string) bool {
	_, err := os.Stat(keyFilePath(dir))
	return err == nil
}

// MinPassphraseLength is the shortest passphrase accepted for a new key file.
const MinPassphraseLength = 8

func checkNewPassphrase(p []byte) error {
	if utf8.RuneCount(p) < MinPassphraseLength {
		return fmt.Errorf("the passphrase must have at least %d characters", MinPassphraseLength)
	}
	return nil
}

func defaultDeviceLabel() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "device"
}
