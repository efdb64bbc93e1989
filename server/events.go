package server

import (
	"sync"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// Bus carries events to the Watch streams of every server process that
// shares one store (SPEC.md §6.4). Delivery is best effort: a slow watcher
// may lose events rather than slow writers down, and every event says
// where things stand now, so the next one catches up.
type Bus interface {
	Publish(orgID string, ev *coffrev1.WatchResponse)
	Subscribe(orgID string) (<-chan *coffrev1.WatchResponse, func())
}

// NewLocalBus returns the bus of a single server process.
func NewLocalBus() Bus { return newHub() }

// hub fans out events to the Watch streams of one server process.
type hub struct {
	mu   sync.Mutex
	subs map[string]map[chan *coffrev1.WatchResponse]struct{} // by organisation
}

func newHub() *hub { return &hub{subs: map[string]map[chan *coffrev1.WatchResponse]struct{}{}} }

func (h *hub) Subscribe(org string) (<-chan *coffrev1.WatchResponse, func()) {
	ch := make(chan *coffrev1.WatchResponse, 64)
	h.mu.Lock()
	if h.subs[org] == nil {
		h.subs[org] = map[chan *coffrev1.WatchResponse]struct{}{}
	}
	h.subs[org][ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs[org], ch)
		h.mu.Unlock()
	}
}

func (h *hub) Publish(org string, ev *coffrev1.WatchResponse) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[org] {
		select {
		case ch <- ev:
		default:
		}
	}
}
