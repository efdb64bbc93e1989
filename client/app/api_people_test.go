package app

import (
	"net/http"
	"strings"
	"testing"

	"github.com/coffre/coffre/tests/hostile"
)

func TestPeopleInviteRevokeProfileAudit(t *testing.T) {
	srv := hostile.Start(t)
	admin := newTestApp(t, srv)
	bob := serveApp(t, admin.enrolUser("bob@example.org"))

	type invited struct {
		Link       string         `json:"link"`
		Invitation invitationJSON `json:"invitation"`
	}
	var first, second invited
	admin.ok("POST", "/api/invitations", map[string]any{"email": "eve@example.org", "profile": "outsider", "hours": 2}, &first)
	if !strings.HasPrefix(first.Link, "coffre://") || first.Invitation.Profile != "outsider" {
		t.Fatalf("invited: %+v", first)
	}
	admin.fails("POST", "/api/invitations", map[string]any{"email": "eve@example.org"}, http.StatusConflict, "invitation_pending")
	admin.ok("POST", "/api/invitations", map[string]any{"email": "eve@example.org", "replace": true}, &second)
	if second.Link == first.Link || second.Invitation.ID == first.Invitation.ID {
		t.Fatal("replace gave the same invitation")
	}
	admin.fails("POST", "/api/invitations", map[string]any{"email": "x@example.org", "profile": "king"}, http.StatusBadRequest, "bad_request")
	admin.fails("POST", "/api/invitations", map[string]any{"email": "x@example.org", "hours": -1}, http.StatusBadRequest, "bad_request")
	bob.fails("POST", "/api/invitations", map[string]any{"email": "y@example.org"}, http.StatusForbidden, "not_admin")
	var dev invited
	bob.ok("POST", "/api/invitations", map[string]any{"kind": "device"}, &dev)
	if dev.Invitation.Kind != "device" || dev.Link == "" {
		t.Fatalf("device invitation: %+v", dev)
	}

	var invs []invitationJSON
	admin.ok("GET", "/api/invitations", nil, &invs)
	pending := 0
	for _, inv := range invs {
		if inv.State == "pending" && inv.Email == "eve@example.org" {
			pending++
		}
	}
	if pending != 1 {
		t.Fatalf("pending invitations for eve: %d in %+v", pending, invs)
	}
	admin.ok("DELETE", "/api/invitations/"+second.Invitation.ID, nil, nil)

	var u userJSON
	admin.ok("PATCH", "/api/users/bob@example.org", map[string]any{"profile": "admin"}, &u)
	if u.Profile != "admin" || u.Email != "bob@example.org" {
		t.Fatalf("profile: %+v", u)
	}
	admin.fails("PATCH", "/api/users/admin@example.org", map[string]any{"profile": "standard"}, http.StatusForbidden, "not_yourself")
	admin.fails("POST", "/api/users/admin@example.org/revoke", nil, http.StatusForbidden, "not_yourself")
	admin.fails("PATCH", "/api/users/nobody@example.org", map[string]any{"profile": "standard"}, http.StatusNotFound, "unknown_user")
	admin.ok("POST", "/api/users/bob@example.org/revoke", nil, &u)
	if !u.Revoked || u.RevokedOn == nil {
		t.Fatalf("revoked: %+v", u)
	}
	bob.app.closeSession()
	bob.fails("GET", "/api/vaults", nil, http.StatusForbidden, "revoked")
	admin.fails("POST", "/api/users/bob@example.org/revoke", nil, http.StatusConflict, "user_revoked")

	var audit []auditJSON
	admin.ok("GET", "/api/audit", nil, &audit)
	last := audit[len(audit)-1]
	if !strings.Contains(last.Action, "revoked") || !strings.Contains(last.Author, "Admin") || last.Hash == "" {
		t.Fatalf("last audit entry: %+v", last)
	}
	var v verifyJSON
	admin.ok("GET", "/api/audit/verify", nil, &v)
	if !v.Consistent || !strings.HasPrefix(v.Summary, "Verified:") || v.Entries != last.Position {
		t.Fatalf("verify: %+v", v)
	}
}
