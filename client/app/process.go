package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/client/control"
	"github.com/coffre/coffre/client/syncservice"
)

// New makes the app of the data directory home, locked (Unlock, or the
// interface, unlocks it). lockAfter is the idle lock's delay (0: never).
func New(home string, lockAfter time.Duration) *App {
	a := &App{
		Home:      home,
		Keys:      client.LockedKeys(home),
		LockAfter: lockAfter,
		activity:  make(chan struct{}, 1),
		folders:   folderSet{changed: make(chan struct{}, 1)},
	}
	a.Sync = &appSync{a: a}
	return a
}

// Listen makes the app's two endpoints: the Unix socket in the data
// directory (ErrRunning when another app answers there) and the HTTP
// listener on addr ("" is DefaultAddr; a non-loopback address is
// ErrNotLoopback). Serve then answers on them.
func (a *App) Listen(addr string) error {
	sock, err := listenSocket(a.Home)
	if err != nil {
		return err
	}
	lis, err := listenHTTP(addr)
	if err != nil {
		sock.Close()
		os.Remove(SocketPath(a.Home))
		return err
	}
	a.sockLis, a.httpLis = sock, lis
	a.web = newWebSecurity(lis.Addr().String(), a.apiHandler(), a.now)
	return nil
}

// Close closes the endpoints Listen made, when Serve is not called.
func (a *App) Close() {
	if a.sockLis != nil {
		a.sockLis.Close()
		os.Remove(SocketPath(a.Home))
	}
	if a.httpLis != nil {
		a.httpLis.Close()
	}
}

// Addr is the interface's address (host:port), once Listen returned.
func (a *App) Addr() string { return a.httpLis.Addr().String() }

// LoginURL makes a new single-use link that logs one browser in.
func (a *App) LoginURL() string {
	return "http://" + a.Addr() + "/?token=" + a.web.newLogin()
}

// socketHandler is the API on the Unix socket, plus what only the device's
// account may ask: a new login link.
func (a *App) socketHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/login-link", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, struct {
			URL string `json:"url"`
		}{a.LoginURL()})
	})
	mux.Handle("/", a.apiHandler())
	return mux
}

// Serve runs the app until ctx ends: both endpoints, the control socket
// ('coffre lock', 'coffre unlock', 'coffre status') with the idle lock, the
// syncs of the app's folders, and the server's events. It listens first if
// Listen was not called. The first service to fail stops the others.
func (a *App) Serve(ctx context.Context) error {
	if a.web == nil {
		if err := a.Listen(""); err != nil {
			return err
		}
	}
	defer os.Remove(SocketPath(a.Home))
	if err := os.MkdirAll(control.Dir(a.Home), 0o700); err != nil {
		return err
	}
	ctl := &control.Server{Keys: a.Keys, LockAfter: a.LockAfter, Activity: a.activity, Changed: a.locked}
	if err := ctl.Listen(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	run := func(serve func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := serve(ctx); err != nil && ctx.Err() == nil {
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
				cancel()
			}
		}()
	}
	run(ctl.Serve)
	run(func(ctx context.Context) error { return serveHTTP(ctx, a.sockLis, a.socketHandler()) })
	run(func(ctx context.Context) error { return serveHTTP(ctx, a.httpLis, a.web) })
	run(a.runSyncs)
	run(a.watchEvents)
	wg.Wait()
	a.closeSession()
	return firstErr
}

// serveHTTP answers on lis until ctx ends.
func serveHTTP(ctx context.Context, lis net.Listener, h http.Handler) error {
	srv := newHTTPServer(h)
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	if err := srv.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// watchEvents forgets the session when the server says the organisation
// changed (the next call syncs it), and when the stream (re)connects:
// events may have been missed meanwhile. A stream refused as revoked runs
// the wipe on return's check (revoked.go).
func (a *App) watchEvents(ctx context.Context) error {
	for ctx.Err() == nil {
		wait := 3 * time.Second
		if !a.Keys.Locked() {
			a.closeSession()
			err := a.Keys.Watch(ctx, func(ev client.Event) {
				if ev.VaultID == "" {
					a.closeSession()
				}
			})
			if client.IsRevokedAnswer(err) && a.revokedAnswer(ctx, err) != nil {
				// Not erased (the log holds no revocation): the server
				// refuses this device anyway; ask less often.
				wait = 30 * time.Second
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	return nil
}

// runSyncs runs one sync service for the app's folders that are not
// paused, and starts it again when the list changes. It starts only while
// unlocked (the list and the journals are sealed); once running, a lock
// makes its folders wait (syncer.Runner looks at the keys before each
// cycle) until the unlock. A sync refused as revoked runs the wipe on
// return's check (revoked.go), which may halt the syncs for good.
func (a *App) runSyncs(ctx context.Context) error {
	for ctx.Err() == nil {
		var folders []syncservice.Folder
		if !a.Keys.Locked() {
			list, err := a.SyncFolders()
			if err == nil {
				for _, f := range list {
					if !f.Paused {
						folders = append(folders, f.Folder)
					}
				}
			}
		}
		if len(folders) == 0 {
			select {
			case <-ctx.Done():
			case <-a.folders.changed:
			case <-time.After(time.Second): // an unlock
			}
			continue
		}
		sctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		if !a.startSync(stop, done) {
			stop()
			return nil // halted by the wipe on return
		}
		svc := &syncservice.Service{Keys: a.Keys, Folders: folders, Options: syncOptions, Activity: a.activity}
		var serveErr error
		go func() {
			defer close(done)
			serveErr = svc.Serve(sctx) // each folder's error is in its status
		}()
		select {
		case <-ctx.Done():
		case <-a.folders.changed:
		case <-done:
			if client.IsRevokedAnswer(serveErr) {
				// The server refuses this device as revoked: every
				// folder stopped, and the check (which may erase) runs
				// with none running.
				a.syncStopped()
				a.revokedAnswer(ctx, serveErr)
			}
			// Every folder stopped on an error (it is in its status):
			// try again later, or at the next change.
			select {
			case <-ctx.Done():
			case <-a.folders.changed:
			case <-time.After(30 * time.Second):
			}
		}
		stop()
		<-done
		a.syncStopped()
	}
	return nil
}
