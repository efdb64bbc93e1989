package e2e

import (
	"strings"
	"testing"
)

// TestUntrustedTextIsEscaped: a claimer picks a name made to redraw the
// greeter's terminal (ESC sequences, a carriage return) and to reverse the
// text after it (U+202E), so that the greeter's confirmation would seem to
// be about someone else. Every line the greeter's coffre prints shows those
// characters escaped: the enrolment confirmation and the user list
// (SECURITY.md A26).
func TestUntrustedTextIsEscaped(t *testing.T) {
	t.Parallel()
	org := StartOrganisation(t, "Clinique des Pins", "Alice", "alice@pins.example")
	alice := org.Admin
	eve := NewDevice(t, "eve")
	name := "Eve\x1b[2K\rAlice Martin <alice@pins.example>\u202eevil"
	id, link := alice.InviteUser("eve@pins.example", "standard")
	res := Enrol(t, alice, []string{"user", "greet", "--yes", id}, eve, link, []string{"--name", name}, Exchange{})
	wantEnrolled(t, res)
	escaped := `Eve\x1b[2K\x0dAlice Martin <alice@pins.example>\u202eevil`
	for what, out := range map[string]string{
		"the greeter's enrolment": res.Greeter.Stdout + res.Greeter.Stderr,
		"the user list":           alice.MustRun("user", "list"),
	} {
		if strings.ContainsAny(out, "\x1b\r\u202e") {
			t.Errorf("%s prints the claimer's name raw:\n%q", what, out)
		}
		if !strings.Contains(out, escaped) {
			t.Errorf("%s does not show the name escaped (%s):\n%q", what, escaped, out)
		}
	}
}
