// Package app is coffre's long-running client process (SPEC.md §14): it
// unlocks the device once, keeps one verified session while unlocked, runs
// the syncs, locks itself after a while without the person, and answers two
// local endpoints with the same JSON API: a Unix socket (mode 0600, in the
// data directory) for the command line, and an HTTP listener on 127.0.0.1
// for the web interface (package web holds its embedded assets).
//
// Files, by concept:
//
//   - app.go: the App, its session and lock state (this file);
//   - json.go: how the API writes answers and errors;
//   - api*.go: the JSON API's handlers, one file per area (vaults, files,
//     sharing, people, sync);
//   - the process, the listeners and the web security (login token,
//     session cookie, CSRF, Host and Origin checks, CSP) in their own files.
package app

import (
	"context"
	"net/http"
	"sync"

	"github.com/coffre/coffre/client"
)

// App is one device's running client process.
type App struct {
	// Home is the device's data directory.
	Home string
	// Keys are the device's keys; Lock forgets them.
	Keys *client.Unlocked
	// Sync is the sync service's folders as the API drives them
	// (api_sync.go); nil: none.
	Sync SyncFolders

	mu   sync.Mutex
	sess *client.Session // open while unlocked; nil when locked or not yet opened
}

// withSession runs fn with the app's verified session, opening it (and
// bringing the organisation up to date) the first time. Calls are
// serialised: a Session is not safe for concurrent use. It returns
// client.ErrLocked when the keys are forgotten.
func (a *App) withSession(ctx context.Context, fn func(*client.Session) error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.Keys == nil || a.Keys.Locked() {
		a.closeSessionLocked()
		return client.ErrLocked
	}
	if a.sess == nil {
		s, err := a.Keys.Session()
		if err != nil {
			return err
		}
		if err := s.Sync(ctx); err != nil {
			s.Close()
			return err
		}
		a.sess = s
	}
	return fn(a.sess)
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

// apiHandler is the JSON API under /api/, without the web security that
// the HTTP listener wraps around it (the Unix socket is its own
// authentication: only this account can open it).
func (a *App) apiHandler() http.Handler {
	mux := http.NewServeMux()
	a.routes(mux)
	return mux
}
