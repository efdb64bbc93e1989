package app

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/tests/hostile"
)

// An invoker named by a vault's emergency policy sees the vault among the
// invocable ones, invokes it with a reason, and the vault's owner sees who,
// why and until when; a reason is required, and a second invocation is
// refused.
func TestEmergencyAPI(t *testing.T) {
	ta := newTestApp(t, hostile.Start(t))
	id := ta.createVault("Urgences")
	bob := serveApp(t, ta.enrolUser("bob@example.org"))
	carol := serveApp(t, ta.enrolUser("carol@example.org"))
	err := ta.app.withSession(testCtx(t), func(s *client.Session) error {
		return s.SetEmergencyPolicy(testCtx(t), id, client.EmergencyPolicyOptions{Invokers: []string{"bob@example.org"}, Duration: 4 * time.Hour})
	})
	if err != nil {
		t.Fatal(err)
	}
	bob.app.closeSession()
	carol.app.closeSession()

	type list struct {
		Emergencies []emergencyJSON
		Invocable   []invocableJSON
	}
	var l list
	bob.ok("GET", "/api/emergencies", nil, &l)
	if len(l.Invocable) != 1 || l.Invocable[0].VaultID != id || l.Invocable[0].Hours != 4 || len(l.Emergencies) != 0 {
		t.Fatalf("bob's emergencies: %+v", l)
	}
	carol.ok("GET", "/api/emergencies", nil, &l)
	if len(l.Invocable) != 0 {
		t.Fatalf("carol may invoke: %+v", l)
	}
	carol.fails("POST", "/api/emergencies", map[string]any{"vault": id, "reason": "curiosité"}, http.StatusForbidden, "not_invoker")
	bob.fails("POST", "/api/emergencies", map[string]any{"vault": id, "reason": "  "}, http.StatusBadRequest, "no_reason")

	var e emergencyJSON
	bob.ok("POST", "/api/emergencies", map[string]any{"vault": id, "reason": "patient en réanimation"}, &e)
	if e.VaultID != id || e.Reason != "patient en réanimation" || e.Until == nil || !strings.Contains(e.User, "bob@example.org") {
		t.Fatalf("invoked: %+v", e)
	}
	bob.fails("POST", "/api/emergencies", map[string]any{"vault": id, "reason": "encore"}, http.StatusConflict, "already_member")
	l = list{}
	bob.ok("GET", "/api/emergencies", nil, &l)
	if len(l.Invocable) != 0 || len(l.Emergencies) != 1 {
		t.Fatalf("after invoking, bob sees %+v", l)
	}

	ta.app.closeSession()
	l = list{}
	ta.ok("GET", "/api/emergencies", nil, &l)
	if len(l.Emergencies) != 1 {
		t.Fatalf("the owner sees %+v", l)
	}
	got := l.Emergencies[0]
	if got.Vault != "Urgences" || got.Reason != "patient en réanimation" || !strings.Contains(got.User, "bob@example.org") ||
		got.Until == nil || !got.Until.Equal(*e.Until) || !got.Running {
		t.Fatalf("the owner sees %+v (bob invoked %+v)", got, e)
	}
}
