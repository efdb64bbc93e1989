package pgstore

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The channels of the server processes sharing a database (LISTEN/NOTIFY).
const (
	eventsChannel = "coffre_events" // payload: see bus.go
	relayChannel  = "coffre_relay"  // payload: a relay box
)

// Timings of the listening connection.
const (
	// listenIdle is how long the connection may stay silent before it is
	// pinged: a connection lost without a word (a network cut) is found
	// within listenIdle + listenPingTimeout.
	listenIdle        = 30 * time.Second
	listenPingTimeout = 5 * time.Second
	// Reconnection waits from listenBackoffMin, doubling up to
	// listenBackoffMax.
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 5 * time.Second
)

// notifier holds a Store's one listening connection, which the Bus and the
// Relay share: it LISTENs on both channels and hands each notification to
// whichever of them registered for its channel. It is started by the first
// registration and stopped by Store.Close.
//
// Notifications sent while the connection is down are lost: after every
// (re)connection each handler is told (connected), so that it catches up
// by reading the database.
type notifier struct {
	cfg *pgx.ConnConfig

	mu       sync.Mutex
	log      *slog.Logger
	handlers map[string]notifyHandler // by channel
	cancel   context.CancelFunc       // nil until started
	done     chan struct{}            // closed when the loop ended

	up atomic.Bool // listening now
}

type notifyHandler interface {
	// notified is called with each notification's payload, in the order
	// PostgreSQL sent them. It must not block.
	notified(payload string)
	// connected is called each time the connection is listening again,
	// before any notification that follows. It must not block.
	connected()
}

func newNotifier(cfg *pgx.ConnConfig) *notifier {
	cfg = cfg.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "coffre-server listener"
	}
	return &notifier{cfg: cfg, log: slog.New(slog.DiscardHandler), handlers: map[string]notifyHandler{}}
}

// register sets the handler of channel and starts listening if it was not
// yet. The first non-nil logger given is the one the notifier logs to.
func (n *notifier) register(channel string, h notifyHandler, logger *slog.Logger) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if logger != nil && n.cancel == nil {
		n.log = logger
	}
	n.handlers[channel] = h
	if n.cancel == nil {
		ctx, cancel := context.WithCancel(context.Background())
		n.cancel, n.done = cancel, make(chan struct{})
		go n.run(ctx)
	} else if n.up.Load() {
		// Listening already: tell the newcomer it may rely on it.
		h.connected()
	}
}

// close stops listening; calling it again does nothing.
func (n *notifier) close() {
	n.mu.Lock()
	cancel, done := n.cancel, n.done
	n.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// listening reports whether the connection is up: notifications sent now
// will arrive.
func (n *notifier) listening() bool { return n.up.Load() }

func (n *notifier) logger() *slog.Logger {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.log
}

func (n *notifier) handler(channel string) notifyHandler {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.handlers[channel]
}

// run keeps a listening connection until ctx ends, reconnecting with
// back-off when it fails.
func (n *notifier) run(ctx context.Context) {
	defer close(n.done)
	backoff := listenBackoffMin
	failures := 0
	for ctx.Err() == nil {
		conn, err := n.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			// The first failures are worth a warning; a long outage is
			// reported now and then, not at every try.
			if failures <= 3 || failures%50 == 0 {
				n.logger().Warn("cannot listen for the other server processes' events; retrying", "error", err, "failures", failures, "retry_in", backoff)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, listenBackoffMax)
			continue
		}
		if failures > 0 {
			n.logger().Info("listening for the other server processes' events again", "failures", failures)
		}
		backoff, failures = listenBackoffMin, 0
		n.up.Store(true)
		n.mu.Lock()
		hs := make([]notifyHandler, 0, len(n.handlers))
		for _, h := range n.handlers {
			hs = append(hs, h)
		}
		n.mu.Unlock()
		for _, h := range hs {
			h.connected()
		}
		err = n.receive(ctx, conn)
		n.up.Store(false)
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(closeCtx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		n.logger().Warn("lost the connection listening for the other server processes' events; reconnecting", "error", err)
	}
}

func (n *notifier) connect(ctx context.Context) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, n.cfg)
	if err != nil {
		return nil, err
	}
	// One statement: both channels or neither.
	if _, err := conn.Exec(cctx, "LISTEN "+eventsChannel+"; LISTEN "+relayChannel); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	return conn, nil
}

// receive hands notifications to their handlers until the connection
// fails or ctx ends. A silent connection is pinged now and then.
func (n *notifier) receive(ctx context.Context, conn *pgx.Conn) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, listenIdle)
		msg, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && conn.IsClosed():
			return err
		case err != nil && (errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err)):
			pctx, cancel := context.WithTimeout(ctx, listenPingTimeout)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
			continue
		case err != nil:
			return err
		}
		if h := n.handler(msg.Channel); h != nil {
			h.notified(msg.Payload)
		}
	}
}
