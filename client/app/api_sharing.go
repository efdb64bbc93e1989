package app

import (
	"net/http"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
)

// memberJSON is one member of a vault.
type memberJSON struct {
	UserID string     `json:"userId"`
	Name   string     `json:"name"`
	Email  string     `json:"email"`
	Role   string     `json:"role"`
	Until  *time.Time `json:"until,omitempty"` // absent: no end
	// Unknown: this device was not sent the member's name and email
	// (SPEC.md §17); the interface shows them by id.
	Unknown bool `json:"unknown,omitempty"`
}

func membersOut(ms []client.Member) []memberJSON {
	out := make([]memberJSON, 0, len(ms))
	for _, m := range ms {
		out = append(out, memberJSON{UserID: m.UserID, Name: m.Name, Email: m.Email, Role: m.Role.String(), Until: timeOrNil(m.Until), Unknown: m.Unknown})
	}
	return out
}

func (h *api) listMembers(r *http.Request) (any, error) {
	var out []memberJSON
	err := h.app.withSession(r.Context(), func(s *client.Session) error {
		_, v, err := s.FindVault(r.PathValue("vault"))
		out = membersOut(v.Members)
		return err
	})
	return out, err
}

// share gives the user (an id or an email) a role in the vault, or
// changes it, with an optional end date (contributors and readers only).
func (h *api) share(r *http.Request) (any, error) {
	var req struct {
		Role  string     `json:"role"`
		Until *time.Time `json:"until"`
	}
	if err := readJSON(r, &req); err != nil {
		return nil, err
	}
	role, err := certificate.ParseRole(req.Role)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	var until time.Time
	if req.Until != nil {
		if until = *req.Until; !until.After(time.Now()) {
			return nil, badRequest("the end date %s is already past", until.Format(time.RFC3339))
		}
	}
	var out []memberJSON
	err = h.app.withSession(r.Context(), func(s *client.Session) error {
		ref := r.PathValue("vault")
		if _, err := s.ShareVault(r.Context(), ref, r.PathValue("user"), role, until); err != nil {
			return err
		}
		_, v, err := s.FindVault(ref)
		out = membersOut(v.Members)
		return err
	})
	return out, err
}

// unshareJSON is the answer of an unshare: who remain, and that the key
// was rotated (the interface says so: what is written from now on is
// sealed to them only).
type unshareJSON struct {
	Members    []memberJSON `json:"members"`
	KeyRotated bool         `json:"keyRotated"`
	Message    string       `json:"message"`
}

func (h *api) unshare(r *http.Request) (any, error) {
	var out unshareJSON
	err := h.app.withSession(r.Context(), func(s *client.Session) error {
		v, before, err := s.FindVault(r.PathValue("vault"))
		if err != nil {
			return err
		}
		if err := s.UnshareVault(r.Context(), v.ID, r.PathValue("user")); err != nil {
			return err
		}
		_, after, err := s.FindVault(v.ID)
		if err != nil {
			return err
		}
		out = unshareJSON{Members: membersOut(after.Members), KeyRotated: after.KeyIndex > before.KeyIndex,
			Message: "the member was removed and the vault's key rotated: what is written from now on is readable by the remaining members only; what they could read before, they may have kept"}
		return nil
	})
	return out, err
}
