package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
)

// Failed unlocks slow down (SPEC.md §14): after the nth wrong passphrase the
// next try waits unlockDelay(n); after maxUnlockFailures in a row the app
// refuses every try for lockOut. A try that comes too soon is refused
// without reading the key file (it is not a failure).
const (
	maxUnlockFailures = 10
	lockOut           = 15 * time.Minute
	maxUnlockDelay    = time.Minute
)

// unlockDelay is the wait after n failures in a row (n ≥ 1): 1 s, 2 s, 4 s…
// up to maxUnlockDelay.
func unlockDelay(n int) time.Duration {
	if n >= 7 {
		return maxUnlockDelay
	}
	return min(time.Second<<(n-1), maxUnlockDelay)
}

// TooSoonError is returned by Unlock when a try comes before the wait that
// the failures before it imposed.
type TooSoonError struct {
	// Wait is how long until the next try is heard.
	Wait time.Duration
	// LockedOut: maxUnlockFailures wrong passphrases in a row.
	LockedOut bool
}

func (e *TooSoonError) Error() string {
	wait := e.Wait.Round(time.Second)
	if wait < time.Second {
		wait = time.Second
	}
	if e.LockedOut {
		return fmt.Sprintf("%d wrong passphrases in a row: unlocking is refused for %s, try again then", maxUnlockFailures, wait)
	}
	return fmt.Sprintf("too many wrong passphrases: wait %s before trying again", wait)
}

// unlockLimiter counts wrong passphrases. One try at a time: a second one
// while the key file is being read is too soon, so parallel guesses gain
// nothing.
type unlockLimiter struct {
	mu       sync.Mutex
	failures int
	next     time.Time // no try before
	busy     bool
}

func (l *unlockLimiter) begin(now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.busy {
		return &TooSoonError{Wait: time.Second}
	}
	if now.Before(l.next) {
		return &TooSoonError{Wait: l.next.Sub(now), LockedOut: l.failures >= maxUnlockFailures}
	}
	l.busy = true
	return nil
}

// end records how the try that begin let through went.
func (l *unlockLimiter) end(now time.Time, wrong bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.busy = false
	if !wrong {
		l.failures, l.next = 0, time.Time{}
		return
	}
	l.failures++
	if l.failures >= maxUnlockFailures {
		l.next = now.Add(lockOut)
	} else {
		l.next = now.Add(unlockDelay(l.failures))
	}
}

// lastConnection is this device's connection before the unlock, as the
// server recorded it (CNIL: shown at each unlock).
type lastConnection struct {
	mu    sync.Mutex
	known bool // the server answered since the unlock
	tried bool // asked since the unlock
	conn  client.Connection
}

func (a *App) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Unlock takes the device's keys with the passphrase, then asks the server
// for this device's previous connection. It fails with client.ErrNoDevice
// when the data directory has no device, crypto.ErrWrongPassphrase, or a
// *TooSoonError while failed tries impose a wait.
func (a *App) Unlock(ctx context.Context, passphrase []byte) error {
	if w := a.revoked(); w != nil {
		return w
	}
	if !client.HasDevice(a.Home) {
		return client.ErrNoDevice
	}
	if err := a.limiter.begin(a.now()); err != nil {
		return err
	}
	err := a.Keys.Relock(a.Home, passphrase)
	a.limiter.end(a.now(), errors.Is(err, crypto.ErrWrongPassphrase))
	if err != nil {
		return err
	}
	a.touch()
	a.closeSession() // a new device (an enrolment) or keys: open afresh
	a.recordConnection(ctx)
	return nil
}

// recordConnection says hello to the server, which records this connection
// and answers the one before; unreachable, the last connection stays unknown.
func (a *App) recordConnection(ctx context.Context) {
	a.last.mu.Lock()
	a.last.tried = true
	a.last.mu.Unlock()
	a.withSession(ctx, func(s *client.Session) error {
		prev, _, err := s.Hello(ctx)
		if err != nil {
			return err
		}
		a.last.mu.Lock()
		a.last.known, a.last.conn = true, prev
		a.last.mu.Unlock()
		return nil
	})
}

// Lock forgets the keys and the session; syncs see the keys gone before
// their next cycle and wait (SPEC.md §14).
func (a *App) Lock() {
	a.Keys.Lock()
	a.locked()
}

// locked is what follows a lock, whoever asked it (the API, 'coffre lock'
// or the idle lock).
func (a *App) locked() {
	a.closeSession()
	a.last.mu.Lock()
	a.last.known, a.last.tried, a.last.conn = false, false, client.Connection{}
	a.last.mu.Unlock()
}

// State is what GET /api/state answers: enough for the interface to choose
// its screen (first run, lock screen, or the app).
type State struct {
	// Device: the data directory holds a device. Without one, the
	// interface shows the first run (claim an invitation).
	Device bool `json:"device"`
	Locked bool `json:"locked"`
	// Identity is set while unlocked.
	Identity *client.Identity `json:"identity,omitempty"`
	// LastConnection is this device's connection before the unlock (zero
	// time: none before it), when the server answered since the unlock.
	LastConnection *ConnectionJSON `json:"last_connection,omitempty"`
	// LockAfterSeconds is the idle lock's delay (0: never).
	LockAfterSeconds int64 `json:"lock_after_seconds"`
	// UnlockWaitSeconds is how long until an unlock is heard (failed
	// tries), and LockedOut says that the wait is the lock-out.
	UnlockWaitSeconds int64 `json:"unlock_wait_seconds,omitempty"`
	LockedOut         bool  `json:"locked_out,omitempty"`
	// Revoked is set once the app erased the data of its device, revoked
	// in its verified log (SPEC.md §15.3): what it erased and kept.
	Revoked *RevokedJSON `json:"revoked,omitempty"`
}

// ConnectionJSON is one connection of this device as the server saw it.
type ConnectionJSON struct {
	Time    time.Time `json:"time"`
	Address string    `json:"address"`
}

// State says whether the app has a device and is unlocked.
func (a *App) State(ctx context.Context) State {
	st := State{Device: client.HasDevice(a.Home), Locked: a.Keys.Locked(), LockAfterSeconds: int64(a.LockAfter / time.Second)}
	if w := a.revoked(); w != nil {
		st.Locked, st.Revoked = true, w.json()
		return st
	}
	if !st.Device {
		st.Locked = true
	}
	if !st.Locked {
		// Unlocked by 'coffre unlock' (the control socket): ask now.
		a.last.mu.Lock()
		ask := !a.last.tried
		a.last.mu.Unlock()
		if ask {
			a.recordConnection(ctx)
		}
		a.withSession(ctx, func(s *client.Session) error {
			id := s.Identity()
			st.Identity = &id
			return nil
		})
		a.last.mu.Lock()
		if a.last.known {
			st.LastConnection = &ConnectionJSON{Time: a.last.conn.Time, Address: a.last.conn.Address}
		}
		a.last.mu.Unlock()
		if a.revoked() != nil { // these calls were refused, and it erased
			return a.State(ctx)
		}
	}
	a.limiter.mu.Lock()
	if wait := a.limiter.next.Sub(a.now()); wait > 0 {
		st.UnlockWaitSeconds = int64((wait + time.Second - 1) / time.Second)
		st.LockedOut = a.limiter.failures >= maxUnlockFailures
	}
	a.limiter.mu.Unlock()
	return st
}

// lockRoutes are the state, unlock and lock endpoints (SPEC.md §14).
func (a *App) lockRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/state", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, a.State(r.Context()))
	})
	mux.HandleFunc("POST /api/unlock", a.unlockHandler)
	mux.HandleFunc("POST /api/lock", func(w http.ResponseWriter, r *http.Request) {
		a.Lock()
		writeJSON(w, a.State(r.Context()))
	})
}

func (a *App) unlockHandler(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Passphrase string `json:"passphrase"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		writeAPIError(w, http.StatusBadRequest, "bad_request", "the request is not the JSON {\"passphrase\": \"…\"}")
		return
	}
	err := a.Unlock(r.Context(), []byte(req.Passphrase))
	var soon *TooSoonError
	switch {
	case err == nil:
		writeJSON(w, a.State(r.Context()))
	case errors.As(err, &soon):
		w.Header().Set("Retry-After", strconv.FormatInt(int64((soon.Wait+time.Second-1)/time.Second), 10))
		code := "too_soon"
		if soon.LockedOut {
			code = "locked_out"
		}
		writeAPIError(w, http.StatusTooManyRequests, code, soon.Error())
	case errors.Is(err, crypto.ErrWrongPassphrase):
		writeAPIError(w, http.StatusUnauthorized, "wrong_passphrase", "wrong passphrase: type it again")
	case errors.Is(err, client.ErrNoDevice):
		writeAPIError(w, http.StatusConflict, "no_device", "this app has no device yet: claim an invitation first")
	default:
		writeError(w, err)
	}
}

// writeAPIError answers an error whose code this file chooses.
func writeAPIError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(apiError{Code: code, Message: message})
}

// PollHeader marks a request the interface makes by itself (refreshing a
// state, a sync's progress): it does not keep the idle lock away. Every
// other API request counts as the person's activity, except GET /api/state
// and GET /api/session.
const PollHeader = "X-Coffre-Poll"

func activityHandler(a *App, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		poll := r.Header.Get(PollHeader) != "" ||
			(r.Method == http.MethodGet && (r.URL.Path == "/api/state" || r.URL.Path == "/api/session"))
		if !poll {
			a.touch()
		}
		next.ServeHTTP(w, r)
	})
}
