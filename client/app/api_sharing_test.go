package app

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/tests/hostile"
)

// enrolUser enrols a new standard user in a data directory of their own,
// greeted by the app's device through the library (the API's greeting is
// tested on its own), and returns that directory.
func (ta *testApp) enrolUser(email string) string {
	ta.t.Helper()
	admin := hostile.Open(ta.t, ta.home)
	defer admin.Close()
	home := filepath.Join(ta.t.TempDir(), "home")
	hostile.Enrol(ta.t, admin, home, "user", email, certificate.ProfileStandard).Close()
	ta.app.closeSession() // the app's session reads the new user at its next call
	return home
}

func TestShareChangeRoleUnshare(t *testing.T) {
	srv := hostile.Start(t)
	ta := newTestApp(t, srv)
	id := ta.createVault("Partage")
	bobHome := ta.enrolUser("bob@example.org")
	bob := serveApp(t, bobHome)

	until := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	var members []memberJSON
	ta.ok("PUT", "/api/vaults/"+id+"/members/bob@example.org", map[string]any{"role": "contributor", "until": until}, &members)
	if len(members) != 2 || members[1].Email != "bob@example.org" || members[1].Role != "contributor" || members[1].Until == nil || !members[1].Until.Equal(until) {
		t.Fatalf("shared: %+v", members)
	}
	ta.put(id, "/cr.txt", []byte("compte rendu"))
	var vs []vaultJSON
	bob.ok("GET", "/api/vaults", nil, &vs)
	if len(vs) != 1 || vs[0].ID != id || vs[0].Role != "contributor" || vs[0].Until == nil || vs[0].Members != 2 {
		t.Fatalf("bob's vaults: %+v", vs)
	}
	if _, got, _ := bob.get("content", id, "/cr.txt"); string(got) != "compte rendu" {
		t.Fatalf("bob reads %q", got)
	}

	members = nil
	ta.ok("PUT", "/api/vaults/"+id+"/members/bob@example.org", map[string]any{"role": "reader"}, &members)
	if members[1].Role != "reader" || members[1].Until != nil {
		t.Fatalf("role changed: %+v", members)
	}
	bob.app.closeSession()
	bob.fails("PUT", "/api/vaults/"+id+"/content"+q("path", "/bob.txt"), []byte("x"), http.StatusForbidden, "read_only")

	ta.fails("PUT", "/api/vaults/"+id+"/members/bob@example.org", map[string]any{"role": "manager", "until": until}, http.StatusBadRequest, "manager_until")
	ta.fails("PUT", "/api/vaults/"+id+"/members/nobody@example.org", map[string]any{"role": "reader"}, http.StatusNotFound, "unknown_user")
	ta.fails("PUT", "/api/vaults/"+id+"/members/bob@example.org", map[string]any{"role": "boss"}, http.StatusBadRequest, "bad_request")
	// The library's refusals answer their own codes, and the library's
	// sentence (what the command line prints) stays the message.
	if msg := bob.fails("PUT", "/api/vaults/"+id+"/members/admin@example.org", map[string]any{"role": "reader"}, http.StatusForbidden, "not_manager"); !strings.Contains(msg, "only an owner or a manager can share") {
		t.Fatalf("not_manager's message: %q", msg)
	}
	bob.fails("DELETE", "/api/vaults/"+id+"/members/admin@example.org", nil, http.StatusForbidden, "not_manager")

	var un unshareJSON
	ta.ok("DELETE", "/api/vaults/"+id+"/members/bob@example.org", nil, &un)
	if !un.KeyRotated || len(un.Members) != 1 || un.Message == "" {
		t.Fatalf("unshared: %+v", un)
	}
	bob.app.closeSession()
	bob.ok("GET", "/api/vaults", nil, &vs)
	if len(vs) != 0 {
		t.Fatalf("bob still sees %+v", vs)
	}
	bob.fails("GET", "/api/vaults/"+id+"/files", nil, http.StatusForbidden, "not_member")
	ta.fails("DELETE", "/api/vaults/"+id+"/members/bob@example.org", nil, http.StatusConflict, "user_not_member")
}
