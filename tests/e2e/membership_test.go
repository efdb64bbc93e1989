package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestGrantDayAndRemoval: a grant --until a bare date lasts to the end of
// that day in the sharer's zone, and the command says which instant that
// is; a member removed from a vault is told so, by whom and when, by the
// vault's name or its id, instead of "no such vault" (issue 12).
func TestGrantDayAndRemoval(t *testing.T) {
	longScenario(t)
	t.Setenv("TZ", "Europe/Paris") // the commands inherit it
	const d = "platanes.example"
	o := startVaultOrg(t, d, "bob")
	alice, bob := o.alice, o.bob
	alice.MustRun("vault", "create", "cardio")

	out := alice.MustRun("vault", "share", "cardio", "bob@"+d, "--role", "reader", "--until", "2030-12-31")
	if want := "Bob <bob@" + d + "> is now reader of cardio until 2031-01-01 00:00 CET (the end of 2030-12-31)\n"; out != want {
		t.Errorf("share --until 2030-12-31 said %q, want %q", out, want)
	}
	want := time.Date(2030, 12, 31, 23, 0, 0, 0, time.UTC)
	for _, m := range alice.Vault("cardio").Members {
		if m.Email == "bob@"+d && (m.Until == nil || !m.Until.Equal(want)) {
			t.Errorf("Bob's grant ends at %v, want %v (midnight at the end of the 31st, Paris)", m.Until, want)
		}
	}
	id := bob.Vault("cardio").ID

	alice.MustRun("vault", "unshare", "cardio", "bob@"+d)
	said := regexp.MustCompile(`^coffre: you are no longer a member of vault "cardio" \(removed by Alice <alice@` + regexp.QuoteMeta(d) + `> on \d{4}-\d\d-\d\d \d\d:\d\d CES?T\)$`)
	for _, ref := range []string{"cardio", id} {
		r := bob.MustFail("you are no longer a member", "ls", ref+":/")
		if msg := strings.TrimSpace(r.Stderr); !said.MatchString(msg) {
			t.Errorf("bob ls %s:/ said %q, want it to match %s", ref, msg, said)
		}
	}
}
