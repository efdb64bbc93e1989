package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/coffre/coffre/server/store"
)

// Bus timings and bounds.
const (
	// publishTimeout bounds what Publish adds to the request that
	// publishes: past it the event is dropped (and logged).
	publishTimeout = time.Second
	// maxNotifyPayload is PostgreSQL's limit on a notification's payload
	// (NAMEDATALEN aside, 8000 bytes by default).
	maxNotifyPayload = 7999
	// catchUpTimeout bounds the reading of heads after a reconnection.
	catchUpTimeout = 10 * time.Second
)

// Bus carries the events of Watch streams (store.Bus) between every
// server process sharing the database, through LISTEN/NOTIFY on
// coffre_events. A notification's payload is
//
//	SENDER ORGANISATION EVENT
//
// separated by single spaces: SENDER is the publishing Bus's random id
// (32 hex digits), ORGANISATION the organisation id, EVENT the store.Event
// in JSON, base64 (standard, padded). Events are small, far below the
// 8000-byte limit.
//
// Publish hands the event to this process's subscribers at once, then
// sends it to the others; a Bus ignores the notifications it sent itself,
// so every subscriber gets each event once. Delivery is best effort, as
// store.Bus allows: a subscriber whose buffer is full misses the event,
// and so does every other process if the database cannot take the
// notification within publishTimeout. After its listening connection comes
// back, a Bus gives its subscribers the current head of every log of their
// organisations, so that watchers catch up with what they missed.
type Bus struct {
	s      *Store
	log    *slog.Logger
	sender string

	mu   sync.Mutex
	subs map[string]map[chan store.Event]struct{} // by organisation
}

// NewBus returns the Bus of this process on s's database, listening until
// s is closed. logger (nil: none) hears of events that could not be sent
// and of the listening connection's failures.
func NewBus(s *Store, logger *slog.Logger) *Bus {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	id := make([]byte, 16)
	rand.Read(id)
	b := &Bus{
		s: s, log: logger, sender: hex.EncodeToString(id),
		subs: map[string]map[chan store.Event]struct{}{},
	}
	s.notifier.register(eventsChannel, b, logger)
	return b
}

// Subscribe returns a channel of the organisation's events and the func
// that ends the subscription. The channel is buffered; events that find it
// full are dropped.
func (b *Bus) Subscribe(orgID string) (<-chan store.Event, func()) {
	ch := make(chan store.Event, 64)
	b.mu.Lock()
	if b.subs[orgID] == nil {
		b.subs[orgID] = map[chan store.Event]struct{}{}
	}
	b.subs[orgID][ch] = struct{}{}
	b.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs[orgID], ch)
			if len(b.subs[orgID]) == 0 {
				delete(b.subs, orgID)
			}
			b.mu.Unlock()
		})
	}
}

// Publish hands ev to this process's subscribers of the organisation, then
// notifies the other processes, waiting at most publishTimeout.
func (b *Bus) Publish(orgID string, ev store.Event) {
	b.deliver(orgID, ev)
	data, err := json.Marshal(ev)
	if err != nil {
		b.log.Error("event not sent to the other server processes", "organisation", orgID, "error", err)
		return
	}
	payload := b.sender + " " + orgID + " " + base64.StdEncoding.EncodeToString(data)
	if len(payload) > maxNotifyPayload {
		b.log.Error("event not sent to the other server processes: too large", "organisation", orgID, "bytes", len(payload))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	// A transaction that notifies holds a lock of the whole cluster
	// until it ends, so that notifications queue in commit order: waiting
	// for the flush of its commit too made every append of every
	// organisation take turns at the disk's pace. An event is best effort
	// and is published after what it tells of has committed, so the
	// commit does not wait (Store.hints, as for nonces).
	if _, err := b.s.hints.Exec(ctx, `SELECT pg_notify($1, $2)`, eventsChannel, payload); err != nil {
		b.log.Warn("event not sent to the other server processes", "organisation", orgID, "error", err)
	}
}

// deliver hands ev to this process's subscribers, never waiting for one.
func (b *Bus) deliver(orgID string, ev store.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs[orgID] {
		select {
		case ch <- ev:
		default:
		}
	}
}

// notified delivers another process's event.
func (b *Bus) notified(payload string) {
	sender, rest, ok1 := strings.Cut(payload, " ")
	i := strings.LastIndexByte(rest, ' ')
	if !ok1 || i < 0 {
		b.log.Warn("malformed event notification ignored", "bytes", len(payload))
		return
	}
	if sender == b.sender {
		return // delivered when published
	}
	orgID, encoded := rest[:i], rest[i+1:]
	b.mu.Lock()
	wanted := len(b.subs[orgID]) > 0
	b.mu.Unlock()
	if !wanted {
		return
	}
	data, err := base64.StdEncoding.DecodeString(encoded)
	var ev store.Event
	if err == nil {
		err = json.Unmarshal(data, &ev)
	}
	if err == nil && ev.Kind != store.LogAppended && ev.Kind != store.VaultAppended && ev.Kind != store.InvitationChanged {
		err = fmt.Errorf("unknown event kind %q", ev.Kind)
	}
	if err != nil {
		b.log.Warn("malformed event notification ignored", "organisation", orgID, "error", err)
		return
	}
	b.deliver(orgID, ev)
}

// connected catches up after the listening connection came (back): the
// events sent while it was down are lost, so every subscriber gets the
// current head of each log of its organisation, as if each had just grown.
func (b *Bus) connected() {
	b.mu.Lock()
	orgs := make([]string, 0, len(b.subs))
	for org := range b.subs {
		orgs = append(orgs, org)
	}
	b.mu.Unlock()
	if len(orgs) == 0 {
		return
	}
	go b.catchUp(orgs)
}

func (b *Bus) catchUp(orgs []string) {
	ctx, cancel := context.WithTimeout(context.Background(), catchUpTimeout)
	defer cancel()
	rows, err := b.s.pool.Query(ctx, `SELECT org_id, log_id, position FROM log_heads WHERE org_id = ANY($1) ORDER BY org_id, log_id`, orgs)
	if err != nil {
		b.log.Warn("cannot catch up with the events missed while not listening", "error", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var orgID, logID string
		var pos int64
		if err := rows.Scan(&orgID, &logID, &pos); err != nil {
			b.log.Warn("cannot catch up with the events missed while not listening", "error", err)
			return
		}
		ev := store.Event{Kind: store.LogAppended, Position: uint64(pos)}
		if logID != orgLogID {
			ev = store.Event{Kind: store.VaultAppended, Vault: logID, Position: uint64(pos)}
		}
		b.deliver(orgID, ev)
	}
	if err := rows.Err(); err != nil {
		b.log.Warn("cannot catch up with the events missed while not listening", "error", err)
	}
}
