package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coffre/coffre/client"
)

// Wipe on return in the app (SPEC.md §15.3). Whatever call the server
// refuses as revoked — an API call, a sync cycle, the event stream — the
// app reads the log the server still serves it, verifies it, and looks
// for the revocation in its own verified state. Only then it stops its
// syncs, erases (client.Session.Wipe), forgets its keys, and answers every
// API call with a RevokedError. The unsigned refusal alone erases nothing
// (SECURITY.md A42): the app answers client.ErrRevocationNotInLog and
// keeps running, locked out of the server.

// RevokedError is every API call's answer once the app erased the data of
// its device, which its verified log says is revoked.
type RevokedError struct {
	Report client.WipeReport
	// Err is what stopped the erasing before its end, if anything: what
	// is left (at least the key file) is erased by the next start.
	Err error
}

func (e *RevokedError) Error() string {
	r := e.Report.Revocation
	who := "this device"
	if r.User {
		who = "this device's user"
	}
	msg := fmt.Sprintf("%s has been revoked by %s on %s: this device's copies of the organisation's data were erased",
		who, r.By, r.Time.UTC().Format(time.RFC3339))
	if len(e.Report.Kept) > 0 {
		msg += fmt.Sprintf("; %d files changed since the last sync were kept aside in %s", len(e.Report.Kept), strings.Join(e.Report.KeptDirs, ", "))
	}
	if e.Err != nil {
		msg += "; erasing stopped on an error: " + e.Err.Error()
	}
	return msg
}

// Unwrap makes a RevokedError a client.ErrRevokedHere.
func (e *RevokedError) Unwrap() error { return client.ErrRevokedHere }

// RevokedJSON is what the app erased and kept, in GET /api/state and in
// the device_revoked error: the interface's revoked screen shows it.
type RevokedJSON struct {
	// Message is the RevokedError's: what the command line prints.
	Message  string    `json:"message"`
	By       string    `json:"by"`
	Time     time.Time `json:"time"`
	User     bool      `json:"user"` // the whole user was revoked
	Folders  []string  `json:"folders"`
	Removed  int       `json:"removed"`
	Kept     []string  `json:"kept"`
	KeptDirs []string  `json:"keptDirs"`
	Error    string    `json:"error,omitempty"`
}

func (e *RevokedError) json() *RevokedJSON {
	r := e.Report
	j := &RevokedJSON{Message: e.Error(), By: r.Revocation.By, Time: r.Revocation.Time, User: r.Revocation.User,
		Folders: nonNil(r.Folders), Removed: r.Removed, Kept: nonNil(r.Kept), KeptDirs: nonNil(r.KeptDirs)}
	if e.Err != nil {
		j.Error = e.Err.Error()
	}
	return j
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// revocation is the app's side of the wipe: one check at a time, and
// what was erased once it was.
type revocation struct {
	mu    sync.Mutex // one check (and wipe) at a time
	wiped *RevokedError

	syncMu     sync.Mutex
	syncHalted bool
	syncStop   context.CancelFunc // the running sync service, if any
	syncDone   <-chan struct{}
}

// revoked returns the RevokedError once the app erased its device's data,
// nil before.
func (a *App) revoked() *RevokedError {
	a.revocation.mu.Lock()
	defer a.revocation.mu.Unlock()
	return a.revocation.wiped
}

// revokedAnswer runs when the server refused a call as revoked (err):
// it checks the revocation in the device's verified log and erases only
// then. It returns what the call answers: a *RevokedError after the wipe,
// client.ErrRevocationNotInLog when the log holds no revocation, or what
// stopped the check (a log that does not verify erases nothing either).
// It must not be called inside withSession (which it does not call).
func (a *App) revokedAnswer(ctx context.Context, err error) error {
	rv := &a.revocation
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if rv.wiped != nil {
		return rv.wiped
	}
	s, serr := a.Keys.Session()
	if serr != nil {
		return errors.Join(err, serr) // locked: checked at the next refusal
	}
	defer s.Close()
	r, cerr := s.CheckRevoked(ctx)
	if cerr != nil {
		return cerr
	}
	if r == nil {
		return client.ErrRevocationNotInLog
	}
	// Verified: nothing may write into the folders or the data directory
	// while they are erased.
	a.haltSyncs()
	a.closeSession()
	rep, werr := s.Wipe(context.WithoutCancel(ctx)) // not left half done when the caller goes
	if werr == nil {
		// The app's list of folders, sealed with a key now erased.
		if err := os.Remove(foldersPath(a.Home)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			werr = fmt.Errorf("erasing the app's folder list: %w", err)
		}
	}
	a.Lock()
	rv.wiped = &RevokedError{Report: rep, Err: werr}
	if a.OnRevoked != nil {
		a.OnRevoked(rv.wiped)
	}
	return rv.wiped
}

// haltSyncs stops the running sync service, waits until it has stopped,
// and keeps runSyncs from starting another. It waits for the service
// only, never for runSyncs' loop, which may be the caller.
func (a *App) haltSyncs() {
	rv := &a.revocation
	rv.syncMu.Lock()
	rv.syncHalted = true
	stop, done := rv.syncStop, rv.syncDone
	rv.syncMu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// startSync records the sync service runSyncs starts; false once the
// syncs are halted (it must not start).
func (a *App) startSync(stop context.CancelFunc, done <-chan struct{}) bool {
	rv := &a.revocation
	rv.syncMu.Lock()
	defer rv.syncMu.Unlock()
	if rv.syncHalted {
		return false
	}
	rv.syncStop, rv.syncDone = stop, done
	return true
}

// syncStopped forgets the service startSync recorded (it has stopped).
func (a *App) syncStopped() {
	rv := &a.revocation
	rv.syncMu.Lock()
	defer rv.syncMu.Unlock()
	rv.syncStop, rv.syncDone = nil, nil
}
