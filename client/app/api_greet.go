package app

import (
	"cmp"
	"context"
	"net/http"

	"github.com/coffre/coffre/client"
)

// The greeter's side of an enrolment from the interface: an administrator
// invited someone (POST /api/invitations), or a person invited another of
// their devices; when the invited person opens the link, the greeter
// starts the greeting here, and both screens show a code to compare
// (api_exchange.go).

// greetedJSON is what a greeting enrolled.
type greetedJSON struct {
	UserID      string `json:"userId"`
	DeviceID    string `json:"deviceId"`
	Name        string `json:"name"`
	Email       string `json:"email,omitempty"`
	DeviceLabel string `json:"deviceLabel"`
}

// startGreeting starts greeting whoever opens a pending invitation (kind
// user or device; invitation: its id or email, or empty for the only
// pending one) and answers the exchange to poll.
func (h *api) startGreeting(r *http.Request) (any, error) {
	var req struct {
		Kind       string `json:"kind"`
		Invitation string `json:"invitation"`
	}
	if err := readJSON(r, &req); err != nil {
		return nil, err
	}
	kind := cmp.Or(req.Kind, "user")
	if kind != "user" && kind != "device" {
		return nil, badRequest("kind: want user or device, not %q", req.Kind)
	}
	var inv client.Invitation
	err := h.app.withSession(r.Context(), func(s *client.Session) (err error) {
		inv, err = s.FindInvitation(r.Context(), kind, req.Invitation)
		return err
	})
	if err != nil {
		return nil, err
	}
	// A session of its own: a greeting waits minutes for the other side,
	// and the app's session serves every other call meanwhile.
	s, err := h.ownSession(r.Context())
	if err != nil {
		return nil, err
	}
	e := newExchange("greeter", stepReady)
	h.greetings.add(e)
	err = e.start(stepReady, func(ctx context.Context) (any, error) {
		defer s.Close()
		res, err := s.Greet(ctx, inv, e)
		if err != nil {
			return nil, err
		}
		h.app.closeSession() // the next call reads the new user or device
		return greetedJSON{UserID: res.UserID, DeviceID: res.DeviceID, Name: res.Claimer.Name,
			Email: res.Claimer.Email, DeviceLabel: res.Claimer.DeviceLabel}, nil
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	return e.snapshot(), nil
}

func (h *api) greetingState(r *http.Request) (any, error)  { return h.greetings.poll(r) }
func (h *api) answerGreeting(r *http.Request) (any, error) { return h.greetings.answerCall(r) }
func (h *api) cancelGreeting(r *http.Request) (any, error) { return h.greetings.cancelCall(r) }
