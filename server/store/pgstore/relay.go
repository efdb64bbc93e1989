package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/server/store"
)

// Relay poll intervals: a waiter reads its box again after this long
// without a notification. Notifications make the wait short; the poll is
// for the times the listening connection is down (relayPollDown) and a
// safety net otherwise (relayPollUp).
var (
	relayPollUp   = 5 * time.Second
	relayPollDown = 200 * time.Millisecond
)

// Relay is the enrolment relay (store.Relay) of every server process
// sharing the database, so that greeter and claimer may be connected to
// different ones. It follows the in-memory relay's rules exactly
// (store.NewLocalRelay): a box has a current attempt, a set of aborted
// attempts and the messages of the current attempt, by side and step.
//
// The boxes are rows of relay_boxes and the messages rows of
// relay_messages. Start, Post and Abort each run in one transaction that
// first locks the box's row (an upsert, which creates it if need be: the
// in-memory relay makes a box on first use too) and notify coffre_relay
// with the box as payload when they change something; the notification
// goes out when the transaction commits. Wait reads the box and the
// message it wants in one statement, and if the message is not there
// waits for a notification naming the box, or relayPollUp (relayPollDown
// while this process is not listening), then reads again, until ctx ends.
// Its subscription is taken before the read, so a change committed after
// the read cannot be missed.
//
// Every call touches its box (the database's clock: processes' clocks may
// differ), and Forget deletes the boxes not touched for maxIdle, with
// their messages.
type Relay struct {
	s   *Store
	log *slog.Logger

	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{} // by box
}

// NewRelay returns the Relay of this process on s's database, listening
// until s is closed. logger (nil: none) hears of Forget's failures and of
// the listening connection's.
func NewRelay(s *Store, logger *slog.Logger) *Relay {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Relay{s: s, log: logger, waiters: map[string]map[chan struct{}]struct{}{}}
	s.notifier.register(relayChannel, r, logger)
	return r
}

// box is one box's row as a transaction holds it.
type box struct {
	attempt int64
	aborted []int64
}

// lockBox makes the box if need be, touches it and locks its row until tx
// ends.
func lockBox(ctx context.Context, tx pgx.Tx, name string) (box, error) {
	var b box
	err := tx.QueryRow(ctx, `INSERT INTO relay_boxes AS b (box) VALUES ($1)
		ON CONFLICT (box) DO UPDATE SET touched = now()
		RETURNING b.attempt, b.aborted`, name).Scan(&b.attempt, &b.aborted)
	return b, err
}

func notifyBox(ctx context.Context, tx pgx.Tx, name string) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, relayChannel, name)
	return err
}

// Start begins a new attempt, dropping the messages of older ones.
func (r *Relay) Start(ctx context.Context, name string) (uint32, error) {
	var attempt int64
	err := r.s.inTx(ctx, func(tx pgx.Tx) error {
		b, err := lockBox(ctx, tx, name)
		if err != nil {
			return err
		}
		if b.attempt >= math.MaxUint32 {
			return fmt.Errorf("box at attempt %d, the last there can be", b.attempt)
		}
		attempt = b.attempt + 1
		if _, err := tx.Exec(ctx, `UPDATE relay_boxes SET attempt = $2 WHERE box = $1`, name, attempt); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM relay_messages WHERE box = $1 AND attempt < $2`, name, attempt); err != nil {
			return err
		}
		return notifyBox(ctx, tx, name)
	})
	if err != nil {
		return 0, fmt.Errorf("starting an enrolment attempt: %w", err)
	}
	return uint32(attempt), nil
}

// Post stores a message of the current attempt: store.ErrEnrolmentAborted
// for an aborted attempt, store.ErrEnrolmentStale for another attempt or a
// step already posted.
func (r *Relay) Post(ctx context.Context, name string, attempt, side, step uint32, payload []byte) error {
	if payload == nil {
		payload = []byte{} // NULL is no message
	}
	var refused error // committed all the same: the box was touched
	err := r.s.inTx(ctx, func(tx pgx.Tx) error {
		b, err := lockBox(ctx, tx, name)
		if err != nil {
			return err
		}
		switch {
		case slices.Contains(b.aborted, int64(attempt)):
			refused = store.ErrEnrolmentAborted
			return nil
		case int64(attempt) != b.attempt:
			refused = store.ErrEnrolmentStale
			return nil
		}
		tag, err := tx.Exec(ctx, `INSERT INTO relay_messages (box, attempt, side, step, payload) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT DO NOTHING`, name, int64(attempt), int64(side), int64(step), payload)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			refused = store.ErrEnrolmentStale
			return nil
		}
		return notifyBox(ctx, tx, name)
	})
	if err != nil {
		return fmt.Errorf("posting an enrolment message: %w", err)
	}
	return refused
}

// Abort marks an attempt aborted and reports whether it was live: not
// aborted already, and started.
func (r *Relay) Abort(ctx context.Context, name string, attempt uint32) (bool, error) {
	live := false
	err := r.s.inTx(ctx, func(tx pgx.Tx) error {
		b, err := lockBox(ctx, tx, name)
		if err != nil {
			return err
		}
		if attempt == 0 || int64(attempt) > b.attempt || slices.Contains(b.aborted, int64(attempt)) {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE relay_boxes SET aborted = array_append(aborted, $2) WHERE box = $1`, name, int64(attempt)); err != nil {
			return err
		}
		live = true
		return notifyBox(ctx, tx, name)
	})
	if err != nil {
		return false, fmt.Errorf("aborting an enrolment attempt: %w", err)
	}
	return live, nil
}

// Wait returns the message of (attempt, side, step) once it is there,
// store.ErrEnrolmentAborted once the attempt is aborted,
// store.ErrEnrolmentStale once a newer attempt started, or ctx's error
// when ctx ends; attempt 0 means the newest attempt not aborted. The
// attempt returned is the one waited for.
func (r *Relay) Wait(ctx context.Context, name string, attempt, side, step uint32) (uint32, []byte, error) {
	wake, unsubscribe := r.subscribe(name)
	defer unsubscribe()
	a := attempt
	fail := func(err error) (uint32, []byte, error) {
		if ctx.Err() != nil {
			return a, nil, ctx.Err()
		}
		return a, nil, fmt.Errorf("waiting for an enrolment message: %w", err)
	}
	if _, err := r.s.pool.Exec(ctx, `INSERT INTO relay_boxes AS b (box) VALUES ($1)
		ON CONFLICT (box) DO UPDATE SET touched = now()`, name); err != nil {
		return fail(err)
	}
	for {
		var b box
		var payload []byte
		var found bool
		// One statement, one snapshot: the message read is of the attempt
		// read. No row means a box forgotten meanwhile: attempt 0.
		err := r.s.pool.QueryRow(ctx, `SELECT b.attempt, b.aborted, m.payload, m.box IS NOT NULL
			FROM relay_boxes b LEFT JOIN relay_messages m
				ON m.box = b.box AND m.attempt = b.attempt AND m.side = $2 AND m.step = $3
			WHERE b.box = $1`, name, int64(side), int64(step)).Scan(&b.attempt, &b.aborted, &payload, &found)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fail(err)
		}
		a = attempt
		if a == 0 {
			a = uint32(b.attempt)
			// A greeter starting over after an aborted attempt waits for
			// the claimer's next one.
			if slices.Contains(b.aborted, int64(a)) {
				a = 0
			}
		}
		switch {
		case a == 0:
		case slices.Contains(b.aborted, int64(a)):
			return a, nil, store.ErrEnrolmentAborted
		case int64(a) != b.attempt:
			return a, nil, store.ErrEnrolmentStale
		case found:
			if payload == nil {
				payload = []byte{}
			}
			return a, payload, nil
		}
		poll := relayPollDown
		if r.s.notifier.listening() {
			poll = relayPollUp
		}
		t := time.NewTimer(poll)
		select {
		case <-wake:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return a, nil, ctx.Err()
		}
		t.Stop()
	}
}

// Forget deletes the boxes idle for longer than maxIdle, with their
// messages.
func (r *Relay) Forget(ctx context.Context, maxIdle time.Duration) {
	tag, err := r.s.pool.Exec(ctx, `DELETE FROM relay_boxes WHERE touched < now() - $1 * interval '1 microsecond'`, maxIdle.Microseconds())
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("cannot forget idle enrolment relay boxes", "error", err)
		}
		return
	}
	if n := tag.RowsAffected(); n > 0 {
		r.log.Debug("forgot idle enrolment relay boxes", "boxes", n)
	}
}

// subscribe returns a channel that receives when the box may have changed.
func (r *Relay) subscribe(name string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	r.mu.Lock()
	if r.waiters[name] == nil {
		r.waiters[name] = map[chan struct{}]struct{}{}
	}
	r.waiters[name][ch] = struct{}{}
	r.mu.Unlock()
	return ch, func() {
		r.mu.Lock()
		delete(r.waiters[name], ch)
		if len(r.waiters[name]) == 0 {
			delete(r.waiters, name)
		}
		r.mu.Unlock()
	}
}

func wakeUp(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default: // already woken
	}
}

// notified wakes the waiters of the box a notification names.
func (r *Relay) notified(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ch := range r.waiters[name] {
		wakeUp(ch)
	}
}

// connected wakes every waiter: notifications may have been lost while
// the connection was down.
func (r *Relay) connected() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, chs := range r.waiters {
		for ch := range chs {
			wakeUp(ch)
		}
	}
}
