// Package app is coffre's long-running client process (SPEC.md §14): it
// unlocks the device once, keeps one verified session while unlocked, runs
// the syncs, locks itself after a while without the person, and answers two
// local endpoints with the same JSON API: a Unix socket (mode 0600, in the
// data directory) for the command line, and an HTTP listener on 127.0.0.1
// for the web interface (package web holds its embedded assets).
//
// Files, by concept:
//
//   - app.go: the App and its session (this file);
//   - lock.go: locked or not, unlock (rate-limited) and lock, and the
//     state, unlock and lock endpoints;
//   - folders.go: the folders the app keeps in sync (a sealed list in the
//     data directory) and the hooks the sync API calls;
//   - process.go: New, Listen and Serve, the whole process: listeners,
//     control socket and idle lock, syncs, the server's events;
//   - listen.go: the two listeners (Unix socket, loopback HTTP);
//   - websec.go: the web security (login token, session cookie, CSRF,
//     Host and Origin checks, CSP);
//   - json.go: how the API writes answers and errors;
//   - api*.go: the JSON API's handlers, one file per area (vaults, files,
//     sharing, people, sync);
//   - cliapi.go and appclient.go: what the command line asks the app over
//     the socket, and the command line's side of it.
//
// What the API handlers use: withSession for anything that needs the
// device's verified session (it fails with client.ErrLocked while locked),
// a.Unlock after an enrolment wrote the key file (the app then holds the new
// device's keys), the folder hooks of folders.go, and a.touch is already
// called for every request that counts as the person's activity.
package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/wire"
)

// App is one device's running client process. Make it with New.
type App struct {
	// Home is the device's data directory.
	Home string
	// Keys are the device's keys: never nil, locked until an unlock (it
	// stays locked while the data directory has no device). Lock forgets
	// them, Unlock takes them back.
	Keys *client.Unlocked
	// LockAfter is the idle lock's delay; zero: only a lock request locks.
	LockAfter time.Duration
	// Now is the clock of the unlock rate limit and of download tickets'
	// expiry (tests move it).
	Now func() time.Time
	// Sync is the sync service's folders as the API drives them
	// (api_sync.go); nil: none.
	Sync SyncFolders
	// OnRevoked, if set, is told once what the wipe on return erased and
	// kept (revoked.go): the command line prints it.
	OnRevoked func(*RevokedError)

	mu          sync.Mutex
	sess        *client.Session // open while unlocked; nil when locked or not yet opened
	sessOffline bool            // sess was opened while the server was unreachable: sync it again

	last     lastConnection
	limiter  unlockLimiter
	activity chan struct{} // the person did something: the idle lock waits again
	web      *webSecurity
	folders  folderSet
	// revocation is the wipe on return (revoked.go): once it ran, every
	// call answers its RevokedError.
	revocation revocation

	sockLis, httpLis net.Listener
}

// withSession runs fn with the app's verified session, opening it (and
// bringing the organisation up to date) the first time. Calls are
// serialised: a Session is not safe for concurrent use. It returns
// client.ErrLocked when the keys are forgotten. While the server can't be
// reached the session holds what this device verified last, and each call
// tries to bring it up to date again.
//
// A call the server refuses as revoked runs the wipe on return's check
// (revokedAnswer) once the session is released: withSession answers what
// it found.
func (a *App) withSession(ctx context.Context, fn func(*client.Session) error) error {
	if w := a.revoked(); w != nil {
		return w
	}
	err := a.withSessionLocked(ctx, fn)
	if client.IsRevokedAnswer(err) {
		return a.revokedAnswer(ctx, err)
	}
	return err
}

func (a *App) withSessionLocked(ctx context.Context, fn func(*client.Session) error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.Keys.Locked() {
		a.closeSessionLocked()
		if !client.HasDevice(a.Home) {
			return client.ErrNoDevice // the interface shows the first run
		}
		return client.ErrLocked
	}
	if a.sess == nil {
		s, err := a.Keys.Session()
		if err != nil {
			return err
		}
		a.sess, a.sessOffline = s, true
	}
	if a.sessOffline {
		err := a.sess.Sync(ctx)
		switch {
		case err == nil:
			a.sessOffline = false
		case !errors.Is(err, client.ErrServerUnavailable):
			a.closeSessionLocked()
			return err
		}
	}
	// A revoked device reads the log up to its revocation (SPEC.md §15):
	// the app answers nothing more, and withSession erases.
	if a.sess.Revoked() != nil {
		a.closeSessionLocked()
		return wire.ErrDeviceRevoked
	}
	return fn(a.sess)
}

// withOwnSession runs fn with a session of its own, for a long call (a
// transfer) that must not make every other call wait: it costs a sync with
// the server, not the passphrase. Sessions of one device in one process
// share one open state file (SPEC.md §9).
func (a *App) withOwnSession(ctx context.Context, fn func(*client.Session) error) error {
	if w := a.revoked(); w != nil {
		return w
	}
	err := a.withOwnSessionOnce(ctx, fn)
	if client.IsRevokedAnswer(err) {
		return a.revokedAnswer(ctx, err)
	}
	return err
}

func (a *App) withOwnSessionOnce(ctx context.Context, fn func(*client.Session) error) error {
	s, err := a.Keys.Session()
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Sync(ctx); err != nil && !errors.Is(err, client.ErrServerUnavailable) {
		return err
	}
	if s.Revoked() != nil {
		return wire.ErrDeviceRevoked // as withSession: the check follows
	}
	return fn(s)
}

// closeSession forgets the open session (after a lock, or when the server's
// events say the organisation changed and the next call should sync).
func (a *App) closeSession() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closeSessionLocked()
}

func (a *App) closeSessionLocked() {
	if a.sess != nil {
		a.sess.Close()
		a.sess = nil
	}
}

// touch says the person just did something: the idle lock starts again.
func (a *App) touch() {
	select {
	case a.activity <- struct{}{}:
	default:
	}
}

// apiHandler is the JSON API under /api/, without the web security that
// the HTTP listener wraps around it (the Unix socket is its own
// authentication: only this account can open it).
func (a *App) apiHandler() http.Handler {
	mux := http.NewServeMux()
	a.lockRoutes(mux)
	a.cliRoutes(mux)
	a.routes(mux)
	return activityHandler(a, revokedHandler(a, mux))
}

// revokedHandler answers every call but GET /api/state with the
// RevokedError once the app erased its device's data (revoked.go): the
// state says what was erased and kept, for the interface's screen. A call
// answered with the server's "revoked" by a path that does not run the
// check itself (withSession and the transfers do) runs it once answered.
func revokedHandler(a *App, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wiped := a.revoked(); wiped != nil && !(r.Method == http.MethodGet && r.URL.Path == "/api/state") {
			writeError(w, wiped)
			return
		}
		rw := &revokedWatch{ResponseWriter: w}
		next.ServeHTTP(rw, r)
		if rw.refused {
			a.revokedAnswer(context.WithoutCancel(r.Context()), wire.ErrDeviceRevoked)
		}
	})
}

// revokedWatch notes that writeError answered the server's "revoked".
type revokedWatch struct {
	http.ResponseWriter
	refused bool
}

func (rw *revokedWatch) sawRevoked() { rw.refused = true }

// Flush keeps streamed answers (cliapi.go's events) streaming.
func (rw *revokedWatch) Flush() {
	if f, ok := rw.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (rw *revokedWatch) Unwrap() http.ResponseWriter { return rw.ResponseWriter }
