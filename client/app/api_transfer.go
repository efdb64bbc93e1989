package app

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/wire"
	"github.com/coffre/coffre/workspace"
)

// Transfers (an upload, a download, a preview) run on sessions of their
// own, so that a long one does not hold the app's session, which every
// other call waits for. Opening a vault reads its whole log from the local
// state (seconds for a vault of 10,000 files: BenchmarkLargeFolder), so a
// transfer's session and vault are kept after it ends, for the next
// transfer of the same vault, which only brings them up to date; one is
// used by one transfer at a time, and closed after idleTransfer without
// use, or at its next use once the keys were forgotten.

// idleTransfer is how long a transfer's session is kept unused. It is
// much shorter than the idle lock, so that a locked app soon holds no
// session at all.
const idleTransfer = 2 * time.Minute

// maxIdlePerVault bounds the sessions kept for one vault (the browser
// runs a few transfers at once).
const maxIdlePerVault = 4

// keptVault is a session and one vault opened on it, for transfers.
type keptVault struct {
	keys  *client.Unlocked // the keys it was opened with
	sess  *client.Session
	org   *certificate.Organisation // the verified organisation the vault was opened on
	vault *workspace.Vault
	id    string // the vault's
	timer *time.Timer
}

func (t *keptVault) close() { t.sess.Close() }

// transfers are the idle transfers, by vault id.
type transfers struct {
	mu   sync.Mutex
	idle map[string][]*keptVault
}

// unlockedKeys returns the app's keys, or ErrLocked (and then closes the
// kept transfers).
func (h *api) unlockedKeys() (*client.Unlocked, error) {
	a := h.app
	a.mu.Lock()
	keys := a.Keys
	a.mu.Unlock()
	if keys == nil || keys.Locked() {
		h.transfers.closeAll()
		return nil, client.ErrLocked
	}
	return keys, nil
}

// ownSession opens a session of its own, brought up to date, for a call
// that lasts (a greeting); the caller closes it.
func (h *api) ownSession(ctx context.Context) (*client.Session, error) {
	keys, err := h.unlockedKeys()
	if err != nil {
		return nil, err
	}
	return syncedSession(ctx, keys)
}

func syncedSession(ctx context.Context, keys *client.Unlocked) (*client.Session, error) {
	s, err := keys.Session()
	if err != nil {
		return nil, err
	}
	if err := s.Sync(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if s.Revoked() != nil { // as withSession: the check follows
		s.Close()
		return nil, wire.ErrDeviceRevoked
	}
	return s, nil
}

// transferVault returns a transfer for the vault the request names, kept
// or opened; the caller gives it back with done. Refused as revoked, it
// runs the wipe on return's check, as withSession does.
func (h *api) transferVault(r *http.Request) (*keptVault, error) {
	t, err := h.openTransfer(r)
	if client.IsRevokedAnswer(err) {
		return nil, h.app.revokedAnswer(r.Context(), err)
	}
	return t, err
}

func (h *api) openTransfer(r *http.Request) (*keptVault, error) {
	ctx, ref := r.Context(), r.PathValue("vault")
	keys, err := h.unlockedKeys()
	if err != nil {
		return nil, err
	}
	if t := h.transfers.take(ref, keys); t != nil {
		if err := t.refresh(ctx, ref); err == nil {
			return t, nil
		}
		t.close() // opened again below, which reports what is wrong
	}
	s, err := syncedSession(ctx, keys)
	if err != nil {
		return nil, err
	}
	t := &keptVault{keys: keys, sess: s}
	if err := t.open(ctx, ref); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

// open opens the vault ref on the transfer's session, with its upkeep.
func (t *keptVault) open(ctx context.Context, ref string) error {
	v, _, err := t.sess.PrepareVault(ctx, ref)
	if err != nil {
		return err
	}
	w, _, err := t.sess.FindVault(ref)
	if err != nil {
		return err
	}
	t.vault, t.org, t.id = v, t.sess.Organisation(), w.ID
	return nil
}

// refresh brings a kept transfer up to date: the organisation log, then
// the vault (opened again when the organisation changed: a member, a
// key).
func (t *keptVault) refresh(ctx context.Context, ref string) error {
	if err := t.sess.Sync(ctx); err != nil {
		return err
	}
	if v, _, err := t.sess.FindVault(ref); err != nil || v.ID != t.id {
		return client.ErrUnknownVault // renamed meanwhile: opened again by its new name
	}
	if t.org != t.sess.Organisation() {
		return t.open(ctx, ref)
	}
	return t.vault.Sync(ctx)
}

// take returns an idle transfer of the vault ref (an id) opened with
// keys, if one is kept.
func (x *transfers) take(ref string, keys *client.Unlocked) *keptVault {
	x.mu.Lock()
	defer x.mu.Unlock()
	list := x.idle[ref]
	for len(list) > 0 {
		t := list[len(list)-1]
		list = list[:len(list)-1]
		x.idle[ref] = list
		if t.timer.Stop() && t.keys == keys {
			return t
		}
		t.close()
	}
	return nil
}

// done gives a transfer back, to be kept for the next one.
func (h *api) done(t *keptVault) {
	x := &h.transfers
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.idle == nil {
		x.idle = map[string][]*keptVault{}
	}
	if len(x.idle[t.id]) >= maxIdlePerVault || t.keys.Locked() {
		t.close()
		return
	}
	x.idle[t.id] = append(x.idle[t.id], t)
	t.timer = time.AfterFunc(idleTransfer, func() { x.drop(t) })
}

// drop closes a transfer kept unused for idleTransfer.
func (x *transfers) drop(t *keptVault) {
	x.mu.Lock()
	defer x.mu.Unlock()
	list := x.idle[t.id]
	for i, u := range list {
		if u == t {
			x.idle[t.id] = append(list[:i:i], list[i+1:]...)
			t.close()
			return
		}
	}
}

// closeAll closes every kept transfer (the keys were forgotten).
func (x *transfers) closeAll() {
	x.mu.Lock()
	defer x.mu.Unlock()
	for id, list := range x.idle {
		for _, t := range list {
			t.timer.Stop()
			t.close()
		}
		delete(x.idle, id)
	}
}
