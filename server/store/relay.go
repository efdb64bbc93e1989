package store

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Errors of a Relay.
var (
	// ErrEnrolmentAborted is returned by a Relay for an attempt that one
	// side aborted.
	ErrEnrolmentAborted = errors.New("enrolment attempt aborted")
	// ErrEnrolmentStale is returned by a Relay for an attempt that a newer
	// one replaced, or a step already posted.
	ErrEnrolmentStale = errors.New("enrolment attempt replaced by a newer one")
)

// Relay passes enrolment messages between greeter and claimer (SPEC.md
// §5), who may be connected to different server processes. The bytes are
// opaque to the server: after the first steps they are sealed in the
// channel the two ends share. A box names one invitation.
type Relay interface {
	// Start begins a new attempt, dropping the messages of older ones.
	Start(ctx context.Context, box string) (uint32, error)
	// Post stores a message of the current attempt (ErrEnrolmentStale for
	// an older attempt or a step already posted, ErrEnrolmentAborted).
	Post(ctx context.Context, box string, attempt, side, step uint32, payload []byte) error
	// Abort marks an attempt aborted; it reports whether the attempt was
	// live, so that it is counted once.
	Abort(ctx context.Context, box string, attempt uint32) (bool, error)
	// Wait returns the message of (attempt, side, step) once it is there;
	// attempt 0 means the newest attempt that is not aborted.
	Wait(ctx context.Context, box string, attempt, side, step uint32) (uint32, []byte, error)
	// Forget drops boxes idle for longer than maxIdle.
	Forget(ctx context.Context, maxIdle time.Duration)
}

// NewLocalRelay returns the relay of a single server process, in memory.
// It is the model the other relays follow (pgstore.Relay).
func NewLocalRelay() Relay { return newRelay() }

// relay holds enrolment messages in memory.
type relay struct {
	mu    sync.Mutex
	boxes map[string]*mailbox // by organisation + invitation id
}

type mailbox struct {
	attempt uint32
	msgs    map[relayKey][]byte
	aborted map[uint32]bool
	changed chan struct{} // closed and replaced on every change
	touched time.Time
}

type relayKey struct {
	side, step uint32
}

func newRelay() *relay { return &relay{boxes: map[string]*mailbox{}} }

func (r *relay) box(id string) *mailbox {
	b := r.boxes[id]
	if b == nil {
		b = &mailbox{msgs: map[relayKey][]byte{}, aborted: map[uint32]bool{}, changed: make(chan struct{})}
		r.boxes[id] = b
	}
	b.touched = time.Now()
	return b
}

func (b *mailbox) notify() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// start begins a new attempt, dropping the messages of older ones.
func (r *relay) Start(_ context.Context, id string) (uint32, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.box(id)
	b.attempt++
	b.msgs = map[relayKey][]byte{}
	b.notify()
	return b.attempt, nil
}

// post stores a message of the current attempt.
func (r *relay) Post(_ context.Context, id string, attempt, side, step uint32, payload []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.box(id)
	switch {
	case b.aborted[attempt]:
		return ErrEnrolmentAborted
	case attempt != b.attempt:
		return ErrEnrolmentStale
	}
	k := relayKey{side, step}
	if _, dup := b.msgs[k]; dup {
		return ErrEnrolmentStale
	}
	b.msgs[k] = payload
	b.notify()
	return nil
}

// abort marks an attempt aborted; waiters on it return ErrEnrolmentAborted.
// It reports whether the attempt was live (so it is counted once).
func (r *relay) Abort(_ context.Context, id string, attempt uint32) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.box(id)
	if b.aborted[attempt] || attempt == 0 || attempt > b.attempt {
		return false, nil
	}
	b.aborted[attempt] = true
	b.notify()
	return true, nil
}

// wait returns the message of (attempt, side, step), waiting until it comes,
// the attempt is aborted, or ctx ends. attempt 0 means the newest attempt.
func (r *relay) Wait(ctx context.Context, id string, attempt, side, step uint32) (uint32, []byte, error) {
	for {
		r.mu.Lock()
		b := r.box(id)
		a := attempt
		if a == 0 {
			a = b.attempt
			// A greeter starting over after an aborted attempt waits for
			// the claimer's next one.
			if b.aborted[a] {
				a = 0
			}
		}
		if a != 0 && b.aborted[a] {
			r.mu.Unlock()
			return a, nil, ErrEnrolmentAborted
		}
		if a != 0 && a == b.attempt {
			if p, ok := b.msgs[relayKey{side, step}]; ok {
				r.mu.Unlock()
				return a, p, nil
			}
		} else if a != 0 && a != b.attempt {
			r.mu.Unlock()
			return a, nil, ErrEnrolmentStale
		}
		changed := b.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return a, nil, ctx.Err()
		}
	}
}

// forget drops mailboxes idle for longer than maxIdle.
func (r *relay) Forget(_ context.Context, maxIdle time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, b := range r.boxes {
		if time.Since(b.touched) > maxIdle {
			delete(r.boxes, id)
		}
	}
}
