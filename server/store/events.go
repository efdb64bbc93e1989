package store

import "sync"

// EventKind says what an Event reports.
type EventKind string

// The kinds of Event.
const (
	// LogAppended: the organisation log grew to Position.
	LogAppended EventKind = "log"
	// VaultAppended: the log of Vault grew to Position.
	VaultAppended EventKind = "vault"
	// InvitationChanged: Invitation moved to State.
	InvitationChanged EventKind = "invitation"
	// EmergencyAppended: a certificate of emergency access to Vault (or
	// of its takeover) landed at Position (SPEC.md §16.3).
	EmergencyAppended EventKind = "emergency"
)

// Event is what an organisation's watchers hear of (SPEC.md §6.4). Each
// says where things stand now, not what changed, so that a watcher that
// missed some catches up with the next. The server turns it into its wire
// form only at its edge.
type Event struct {
	Kind       EventKind       `json:"kind"`
	Position   uint64          `json:"position,omitempty"`   // LogAppended, VaultAppended, EmergencyAppended
	Vault      string          `json:"vault,omitempty"`      // VaultAppended, EmergencyAppended
	Invitation string          `json:"invitation,omitempty"` // InvitationChanged
	State      InvitationState `json:"state,omitempty"`      // InvitationChanged
}

// Bus carries events to the Watch streams of every server process that
// shares one store (SPEC.md §6.4). Delivery is best effort: a slow watcher
// may lose events rather than slow writers down, and every event says
// where things stand now, so the next one catches up.
type Bus interface {
	// Publish hands ev to the organisation's subscribers, never waiting
	// long for one.
	Publish(orgID string, ev Event)
	// Subscribe returns a channel of the organisation's events and the
	// func that ends the subscription.
	Subscribe(orgID string) (<-chan Event, func())
}

// NewLocalBus returns the bus of a single server process.
func NewLocalBus() Bus { return newHub() }

// hub fans out events to the Watch streams of one server process.
type hub struct {
	mu   sync.Mutex
	subs map[string]map[chan Event]struct{} // by organisation
}

func newHub() *hub { return &hub{subs: map[string]map[chan Event]struct{}{}} }

func (h *hub) Subscribe(org string) (<-chan Event, func()) {
	ch := make(chan Event, 64)
	h.mu.Lock()
	if h.subs[org] == nil {
		h.subs[org] = map[chan Event]struct{}{}
	}
	h.subs[org][ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs[org], ch)
		h.mu.Unlock()
	}
}

func (h *hub) Publish(org string, ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[org] {
		select {
		case ch <- ev:
		default:
		}
	}
}
