package cli

import (
	"testing"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
)

// A user whose identity this device was not sent (SPEC.md §17) is printed
// by id, never as an empty name or "<>".
func TestUnknownPersonShownById(t *testing.T) {
	unknown := &certificate.User{ID: "u1", IdentityCommitment: make([]byte, 32)}
	known := &certificate.User{ID: "u2", Name: "Alice", Email: "alice@example.org", IdentityCommitment: make([]byte, 32)}
	old := &certificate.User{ID: "u3", Name: "Bob", Email: "bob@example.org"}
	for _, c := range []struct {
		got, want string
	}{
		{person(unknown), "unknown member (id u1)"},
		{personEmail(unknown), "unknown member (id u1)"},
		{person(known), "Alice <alice@example.org>"},
		{personEmail(old), "bob@example.org"},
		{memberText(client.Member{UserID: "u1", Role: certificate.RoleReader, Unknown: true}), "unknown member (id u1) (reader)"},
		{memberText(client.Member{UserID: "u2", Email: "alice@example.org", Role: certificate.RoleOwner}), "alice@example.org (owner)"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
