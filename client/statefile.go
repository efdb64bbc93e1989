package client

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/coffre/coffre/certificate"
)

// stateLockWait bounds how long a transaction waits for another process's
// transaction on state.db: transactions last milliseconds, so a longer
// wait means a process stuck while holding the file.
const stateLockWait = 30 * time.Second

// stateIdle is how long state.db stays open after its last transaction
// (SPEC.md §9 "Sharing"). Opening it costs a mapping and its first page
// faults, and closing it an unmapping: 0.1-0.2 ms of a small put's ~2 ms
// of client CPU when every transaction opened it. Long enough for the writes of a
// session to find it open even on a loaded machine (a write a second per
// client under the bench's load); another process that waits for it does
// not wait for this, it is let in at statePoll. Only a process that does
// not say it waits (an older version, a tool) waits for stateIdle.
const stateIdle = 5 * time.Second

// statePoll is how often an open state.db looks for a process waiting
// for it (stateWait), busy or not: looking after every transaction
// instead cost as much as a third of what keeping the file open saves.
const statePoll = 250 * time.Millisecond

// stateHandOver bounds how long a process that closed state.db for a
// waiting one waits for it to get in before opening the file again, so
// that the two take turns rather than the first taking it back before the
// other's next try (bbolt retries a held lock every 50 ms).
const stateHandOver = time.Second

// stateFile is state.db, opened by a transaction and kept open until no
// transaction has used it for stateIdle, or until another process waits
// for it, so that a running sync and one-shot commands of the same device
// work at the same time (SPEC.md §9 "Sharing"). While open it is locked
// for this process alone; every commit is synced before Update returns, so
// nothing committed depends on the file being closed. Its View and Update
// are bbolt's.
type stateFile struct {
	path string
	refs int // holders sharing it (stateFiles)

	mu       sync.Mutex
	idleDone sync.Cond // signalled when inFlight drops to 0
	db       *bolt.DB  // nil while closed
	inFlight int       // transactions using db
	lastUsed time.Time
	idle     *time.Timer
	// yield: another process waits, close db once inFlight is 0 (and
	// let no new transaction in until then);
	// handedOver: closed for it, let it in before opening again.
	yield, handedOver bool
	wait              *stateWait
	// aside: a write running on its own goroutine (UpdateAside), which
	// every later Update of this process waits for.
	aside *asideWrite
}

// asideWrite is a write transaction running on its own goroutine.
type asideWrite struct {
	done chan struct{}
	err  error
}

// stateMapRoom is how far beyond its size state.db is mapped for a write
// transaction. bbolt maps the file again when a transaction grows it past
// the mapping, and first copies every node the transaction holds out of
// the old one: a first sync storing thousands of entries and a snapshot of
// megabytes did that again and again (a tenth of its CPU). It reserves
// address space, not memory, except on Windows, where bbolt grows the file
// to the size mapped: there the file is mapped as before.
const stateMapRoom = 64 << 20

// stateFiles are the open stateFiles of this process by path: the
// sessions of one device in one process (the app's, a transfer's) share
// one, rather than take turns with the file as two processes do.
var stateFiles = struct {
	sync.Mutex
	byPath map[string]*stateFile
}{byPath: map[string]*stateFile{}}

// shareStateFile returns this process's stateFile for path; close it
// when done.
func shareStateFile(path string) *stateFile {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	stateFiles.Lock()
	defer stateFiles.Unlock()
	f := stateFiles.byPath[path]
	if f == nil {
		f = &stateFile{path: path}
		f.idleDone.L = &f.mu
		stateFiles.byPath[path] = f
	}
	f.refs++
	return f
}

// open opens the file for this process, waiting for another process's
// hold on it, and tells that process it waits (stateWait). Called with
// f.mu held: transactions of this process wait for it too.
func (f *stateFile) open() (*bolt.DB, error) {
	if f.wait == nil {
		w, err := openStateWait(f.path)
		if err != nil {
			return nil, fmt.Errorf("local state %s: %w", f.path, err)
		}
		f.wait = w
	}
	if f.handedOver {
		f.handedOver = false
		f.wait.othersIn(stateHandOver)
	}
	opts := &bolt.Options{Timeout: stateLockWait}
	if runtime.GOOS != "windows" {
		var size int64
		if info, err := os.Stat(f.path); err == nil {
			size = info.Size()
		}
		opts.InitialMmapSize = int(size) + stateMapRoom
	}
	f.wait.start()
	db, err := bolt.Open(f.path, 0o600, opts)
	f.wait.stop()
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("local state %s stayed locked by another coffre process for %s", f.path, stateLockWait)
	}
	if err != nil {
		return nil, fmt.Errorf("local state %s can't be read (%v): %w; restore it from a backup or enrol this device again", f.path, err, ErrCorruptState)
	}
	return db, nil
}

// acquire returns the open file for one transaction; release must follow.
func (f *stateFile) acquire() (*bolt.DB, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.db != nil && f.yield {
		if f.inFlight > 0 {
			f.idleDone.Wait()
			continue
		}
		f.closeLocked(true)
	}
	if f.db == nil {
		db, err := f.open()
		if err != nil {
			return nil, err
		}
		f.db = db
		if stateKeptOpen {
			f.idle = time.AfterFunc(statePoll, f.closeIfIdle)
		}
	}
	f.inFlight++
	return f.db, nil
}

// release ends a transaction; failed says it returned an error, after
// which the file is opened anew rather than trusted.
func (f *stateFile) release(failed bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inFlight--
	f.lastUsed = time.Now()
	if f.inFlight > 0 {
		return nil
	}
	f.idleDone.Broadcast()
	if failed || !stateKeptOpen {
		return f.closeLocked(false)
	}
	if f.yield {
		return f.closeLocked(true)
	}
	return nil
}

// closeIfIdle runs every statePoll while the file is open: it closes
// it for a process that waits, or after stateIdle unused.
func (f *stateFile) closeIfIdle() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.db == nil {
		return
	}
	// An error closing loses nothing: every commit was synced.
	switch waiting := f.wait.othersWaiting(); {
	case waiting && f.inFlight > 0:
		f.yield = true // the last transaction in flight closes it
	case waiting:
		f.closeLocked(true)
		return
	case f.inFlight == 0 && time.Since(f.lastUsed) >= stateIdle:
		f.closeLocked(false)
		return
	}
	f.idle.Reset(statePoll)
}

// closeLocked closes db (f.mu held, nothing in flight); forOther says
// another process waits for it.
func (f *stateFile) closeLocked(forOther bool) error {
	if f.idle != nil {
		f.idle.Stop()
		f.idle = nil
	}
	err := f.db.Close()
	f.db, f.yield = nil, false
	f.handedOver = forOther
	if err != nil {
		return fmt.Errorf("closing local state %s: %w", f.path, err)
	}
	return nil
}

// close ends a holder's use (Session.Close); the last one closes the
// file once no transaction uses it.
func (f *stateFile) close() error {
	stateFiles.Lock()
	f.refs--
	last := f.refs == 0
	if last {
		delete(stateFiles.byPath, f.path)
	}
	stateFiles.Unlock()
	if !last {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.inFlight > 0 {
		f.idleDone.Wait()
	}
	var err error
	if f.db != nil {
		err = f.closeLocked(false)
	}
	if f.wait != nil {
		err = errors.Join(err, f.wait.close())
		f.wait = nil
	}
	return err
}

// View runs fn in a read transaction.
func (f *stateFile) View(fn func(*bolt.Tx) error) error {
	db, err := f.acquire()
	if err != nil {
		return err
	}
	err = db.View(fn)
	return errors.Join(err, f.release(err != nil))
}

// Update runs fn in a write transaction, durable when Update returns.
// It waits for a write running aside first, and fails if that failed.
func (f *stateFile) Update(fn func(*bolt.Tx) error) error {
	f.mu.Lock()
	a := f.aside
	f.mu.Unlock()
	if a != nil {
		if <-a.done; a.err != nil {
			return fmt.Errorf("an earlier write of %s failed (%w): nothing after it is stored", f.path, a.err)
		}
	}
	return f.update(fn)
}

// UpdateAside runs fn in a write transaction on another goroutine and
// returns what waits for it and gives its error. Until then every Update
// of this process waits for it first, and fails if it failed: a write
// that follows it may depend on what it stores (a vault entry claiming an
// organisation position that only it stores). The caller waits for it
// before it returns.
func (f *stateFile) UpdateAside(fn func(*bolt.Tx) error) func() error {
	a := &asideWrite{done: make(chan struct{})}
	f.mu.Lock()
	prev := f.aside
	f.aside = a
	f.mu.Unlock()
	go func() {
		defer close(a.done)
		if prev != nil {
			if <-prev.done; prev.err != nil {
				a.err = prev.err
				return
			}
		}
		a.err = f.update(fn)
	}()
	return func() error {
		<-a.done
		f.mu.Lock()
		if f.aside == a {
			f.aside = nil
		}
		f.mu.Unlock()
		return a.err
	}
}

func (f *stateFile) update(fn func(*bolt.Tx) error) error {
	db, err := f.acquire()
	if err != nil {
		return err
	}
	err = db.Update(fn)
	return errors.Join(err, f.release(err != nil))
}

// alreadyStored checks a batch of newly verified entries, at positions
// first, first+1, …, against what the file holds now: another process of
// this device may have stored some of them since this one read the file.
// Those must be the very same bytes — else the server showed this device
// two histories (a fork) — and it returns how many are stored, so that
// only the rest is written and the stored head never moves back.
// entryKind and headKind name the associated data of the entries and of
// the head (SPEC.md §9).
func (s *localState) alreadyStored(entries *bolt.Bucket, sealedHead []byte, entryKind, headKind string, first uint64, data [][]byte) (int, error) {
	var stored uint64
	if sealedHead != nil {
		head, err := s.key.Decrypt(s.aad(headKind, 0), sealedHead)
		if err != nil || len(head) < 8 {
			return 0, fmt.Errorf("local state %s: head does not decrypt: %w", s.path, ErrCorruptState)
		}
		stored = binary.BigEndian.Uint64(head)
	}
	switch {
	case first == stored+1:
		return 0, nil
	case first > stored+1:
		return 0, fmt.Errorf("local state %s holds fewer entries than this process read from it: %w", s.path, ErrCorruptState)
	}
	n := 0
	for ; n < len(data) && first+uint64(n) <= stored; n++ {
		p := first + uint64(n)
		sealed := entries.Get(posKey(p))
		if sealed == nil {
			return 0, fmt.Errorf("local state %s has no entry %d below its head: %w", s.path, p, ErrCorruptState)
		}
		mine, err := s.key.Decrypt(s.aad(entryKind, p), sealed)
		if err != nil {
			return 0, fmt.Errorf("local state %s is damaged at entry %d: %w", s.path, p, ErrCorruptState)
		}
		if !bytes.Equal(mine, data[n]) {
			return 0, fmt.Errorf("%w: the server sent this device two different entries at %d", certificate.ErrFork, p)
		}
	}
	return n, nil
}
