//go:build !windows && !plan9 && !solaris && !aix && !android

package client

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// stateKeptOpen: state.db stays open between transactions (stateFile),
// since a process waiting for it can say so (stateWait).
const stateKeptOpen = true

// stateWait is state.db-wait, beside state.db, empty: a process waiting
// for state.db holds a shared lock on it, and the process that has
// state.db open tests it after each transaction and closes state.db at
// once when someone waits (SPEC.md §9 "Sharing"). bbolt's own lock on
// state.db says nothing of who waits for it.
type stateWait struct{ f *os.File }

func openStateWait(statePath string) (*stateWait, error) {
	f, err := os.OpenFile(statePath+"-wait", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	return &stateWait{f}, nil
}

// start and stop bracket a wait for state.db.
func (w *stateWait) start() { syscall.Flock(int(w.f.Fd()), syscall.LOCK_SH) }
func (w *stateWait) stop()  { syscall.Flock(int(w.f.Fd()), syscall.LOCK_UN) }

// othersWaiting says whether another stateFile (process) waits for state.db.
func (w *stateWait) othersWaiting() bool {
	err := syscall.Flock(int(w.f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == nil {
		syscall.Flock(int(w.f.Fd()), syscall.LOCK_UN)
		return false
	}
	return errors.Is(err, syscall.EWOULDBLOCK)
}

// othersIn waits, at most max, until no one else waits for state.db.
func (w *stateWait) othersIn(max time.Duration) {
	for end := time.Now().Add(max); w.othersWaiting() && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
}

func (w *stateWait) close() error { return w.f.Close() }
