package client

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"

	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/link"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// Unlocked holds a device's keys in memory, so that a long-running command
// (sync) opens sessions as it needs them without asking the passphrase
// again, and holds the state file only while it works. Lock forgets the
// keys.
type Unlocked struct {
	dir  string
	mu   sync.Mutex
	keys *deviceKeys
}

// Unlock opens the device key file with the passphrase.
func Unlock(dir string, passphrase []byte) (*Unlocked, error) {
	keys, err := readKeyFile(keyFilePath(dir), passphrase)
	if err != nil {
		return nil, err
	}
	return &Unlocked{dir: dir, keys: keys}, nil
}

// LockedKeys is an Unlocked for the device in dir that holds no keys yet:
// Relock takes them. The app (SPEC.md §14) starts so when it has no
// passphrase, and its interface unlocks it.
func LockedKeys(dir string) *Unlocked { return &Unlocked{dir: dir} }

// Session opens a session with the unlocked keys.
func (u *Unlocked) Session() (*Session, error) {
	keys := u.current()
	if keys == nil {
		return nil, ErrLocked
	}
	return openWithKeys(u.dir, keys)
}

// Lock forgets the keys.
func (u *Unlocked) Lock() {
	u.mu.Lock()
	u.keys = nil
	u.mu.Unlock()
}

// Locked reports whether the keys were forgotten.
func (u *Unlocked) Locked() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.keys == nil
}

// SyncKey returns the key of this device's sync journals and status
// files (SPEC.md §12), or ErrLocked once the keys are forgotten: a locked
// sync can't read its journal either.
func (u *Unlocked) SyncKey() (crypto.SecretKey, error) {
	keys := u.current()
	if keys == nil {
		return crypto.SecretKey{}, ErrLocked
	}
	return syncKey(keys), nil
}

func syncKey(keys *deviceKeys) crypto.SecretKey {
	return crypto.DeriveKey(keys.StateKey.Bytes(), "sync", nil)
}

// Relock takes the keys back with the passphrase (after Lock).
func (u *Unlocked) Relock(dir string, passphrase []byte) error {
	keys, err := readKeyFile(keyFilePath(dir), passphrase)
	if err != nil {
		return err
	}
	u.mu.Lock()
	u.keys = keys
	u.mu.Unlock()
	return nil
}

func (u *Unlocked) current() *deviceKeys {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.keys
}

// Event is something the server says changed.
type Event struct {
	// VaultID is set when a vault's log grew; empty when the
	// organisation log grew.
	VaultID string
}

// Watch streams the server's events until ctx ends or the connection
// breaks (then it returns the error; callers reconnect). It holds no state
// file.
func (u *Unlocked) Watch(ctx context.Context, fn func(Event)) error {
	keys := u.current()
	if keys == nil {
		return ErrLocked
	}
	l, err := link.Parse(keys.OrganisationLink)
	if err != nil {
		return err
	}
	c, err := dial(l, &signer{orgID: l.OrganisationID, deviceID: keys.DeviceID, key: keys.SigningKey})
	if err != nil {
		return err
	}
	defer c.close()
	req := &coffrev1.WatchRequest{}
	stream, err := c.api.Watch(withStreamRequest(ctx, req), req)
	if err != nil {
		return fromServer(c.address, err)
	}
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fromServer(c.address, err)
		}
		switch e := ev.GetEvent().(type) {
		case *coffrev1.WatchResponse_VaultAppended:
			fn(Event{VaultID: e.VaultAppended.GetVaultId()})
		case *coffrev1.WatchResponse_LogAppended:
			fn(Event{})
		}
	}
}

// Home returns the device's data directory.
func (u *Unlocked) Home() string { return u.dir }

// DeviceLabel returns this device's label.
func (u *Unlocked) DeviceLabel() string {
	if keys := u.current(); keys != nil {
		return keys.DeviceLabel
	}
	h, _ := os.Hostname()
	return h
}
