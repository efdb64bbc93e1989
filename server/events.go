package server

import (
	"sync"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// hub fans out events to the Watch streams of one server process
// (SPEC.md §6.4). A slow watcher loses events rather than slowing writers:
// every event says where things stand now, so the next one catches up.
type hub struct {
	mu   sync.Mutex
	subs map[string]map[chan *coffrev1.WatchResponse]struct{} // by organisation
}

func newHub() *hub { return &hub{subs: map[string]map[chan *coffrev1.WatchResponse]struct{}{}} }

func (h *hub) subscribe(org string) (<-chan *coffrev1.WatchResponse, func()) {
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

func (h *hub) publish(org string, ev *coffrev1.WatchResponse) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[org] {
		select {
		case ch <- ev:
		default:
		}
	}
}
