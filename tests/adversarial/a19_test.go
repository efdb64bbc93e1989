package adversarial

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/tests/hostile"
)

// tokenForms are the ways a token could be written down.
func tokenForms(token []byte) map[string][]byte {
	return map[string][]byte{
		"raw":             token,
		"base64url":       []byte(base64.RawURLEncoding.EncodeToString(token)),
		"base64url (pad)": []byte(base64.URLEncoding.EncodeToString(token)),
		"base64":          []byte(base64.StdEncoding.EncodeToString(token)),
		"base64 (no pad)": []byte(base64.RawStdEncoding.EncodeToString(token)),
		"hex":             []byte(hex.EncodeToString(token)),
		"HEX":             []byte(strings.ToUpper(hex.EncodeToString(token))),
		"Go quoted":       []byte(strings.Trim(strconv.Quote(string(token)), `"`)),
		"decimal list":    []byte(fmt.Sprint(token)),
	}
}

// TestA19TokenNeverStored: bootstrap and invitation tokens reach the server
// (it hashes what a claimer presents) but are never stored or logged: after
// a bootstrap and invitations in every state — pending, spent, cancelled,
// aborted, presented again after use — no token appears in any form in the
// store (its backup, and every byte it keeps: the files of the data
// directory, free pages included, or every row of every table of its
// database), its blocks or the server's logs; the stored token hashes are
// there (SECURITY.md A19).
func TestA19TokenNeverStored(t *testing.T) {
	t.Parallel()
	s := hostile.Start(t)
	d := dirs(t, "admin", "bob", "laptop", "eve")
	bootstrapLink := s.NewOrganisation(t, "Token test")
	admin, err := client.Bootstrap(bg(), d["admin"], bootstrapLink, client.BootstrapOptions{
		Name: "Admin", Email: "admin@example.org", DeviceLabel: "laptop", Passphrase: hostile.Passphrase,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	org := admin.Identity().OrganisationID
	// The bootstrap token presented again, once spent.
	if _, err := client.Bootstrap(bg(), d["eve"], bootstrapLink, client.BootstrapOptions{
		Name: "Eve", Email: "eve@example.org", Passphrase: hostile.Passphrase,
	}); err == nil {
		t.Fatal("a spent bootstrap link bootstrapped again")
	}
	raw := s.Dial(t, nil)
	if _, err := raw.Bootstrap(bg(), &coffrev1.BootstrapRequest{OrganisationId: org, Token: bootstrapLink.Token}); err == nil {
		t.Fatal("raw bootstrap with a spent token accepted")
	}

	pending, _ := hostile.Invite(t, admin, "user", "pending@example.org", certificate.ProfileStandard)
	spent, inv := hostile.Invite(t, admin, "user", "bob@example.org", certificate.ProfileStandard)
	if res := hostile.RunEnrolment(t, admin, spent, inv, d["bob"], hostile.EnrolOptions{}); res.GreetErr != nil || res.ClaimErr != nil {
		t.Fatalf("enrolment: %v / %v", res.GreetErr, res.ClaimErr)
	}
	cancelled, inv := hostile.Invite(t, admin, "user", "cancelled@example.org", certificate.ProfileStandard)
	if err := admin.CancelInvitation(bg(), inv.ID); err != nil {
		t.Fatal(err)
	}
	aborted, inv := hostile.Invite(t, admin, "device", "", 0)
	if res := hostile.RunEnrolment(t, admin, aborted, inv, d["laptop"], hostile.EnrolOptions{ClaimerTypes: func(string) string { return "XXXX" }}); res.ClaimErr == nil {
		t.Fatal("an enrolment with a wrong code went through")
	}
	// Every invitation token presented again: the server sees them once more.
	invitationLinks := map[string][]byte{
		"pending": pending.Token, "spent": spent.Token, "cancelled": cancelled.Token, "aborted": aborted.Token,
	}
	for _, tok := range invitationLinks {
		raw.ClaimInvitation(bg(), &coffrev1.ClaimInvitationRequest{OrganisationId: org, Token: tok})
		raw.RelayPost(bg(), &coffrev1.RelayPostRequest{OrganisationId: org, Token: tok, Side: coffrev1.RelaySide_RELAY_SIDE_CLAIMER, Step: 1, Payload: []byte("x")})
	}

	// Everything the server keeps: the backup, every byte of its store
	// (coffre.db as it is on disk, free pages included, or every row of
	// every table), its blocks, its logs.
	kept := map[string][]byte{"backup": s.Snapshot(), "logs": []byte(s.Logs())}
	stored, blocks := s.StoredData(t)
	for where, b := range stored {
		kept["store: "+where] = b
	}
	for where, b := range blocks {
		kept["block "+where] = b
	}
	if len(stored) == 0 || !strings.Contains(string(kept["logs"]), "bootstrapped") {
		t.Fatal("the check would look at too little")
	}
	tokens := map[string][]byte{"bootstrap": bootstrapLink.Token}
	for k, v := range invitationLinks {
		tokens[k] = v
	}
	for where, b := range kept {
		for which, tok := range tokens {
			for form, enc := range tokenForms(tok) {
				if bytes.Contains(b, enc) {
					t.Errorf("the %s token is in %s (%s)", which, where, form)
				}
			}
		}
	}

	// The invitation token hashes are what the server keeps (raw: the
	// search sees stored bytes as they are).
	for which, tok := range invitationLinks {
		h := sha256.Sum256(tok)
		found := false
		for _, b := range stored {
			found = found || bytes.Contains(b, h[:])
		}
		if !found {
			t.Errorf("the %s invitation's token hash is not in the store", which)
		}
	}
	// The bootstrap token's hash is gone from the organisation's record.
	rec, err := s.Store().Organisation(bg(), org)
	if err != nil || len(rec.BootstrapTokenHash) != 0 {
		t.Fatalf("the bootstrap token hash is still recorded: %x (%v)", rec.BootstrapTokenHash, err)
	}
}

// TestA19SpentBootstrapHashGone: SECURITY.md lists "the bootstrap token's
// SHA-256 until bootstrap, then nothing of it". The organisation record
// drops it, but bbolt does not clear the page it was on: the JSON with the
// hash stays in a free page of coffre.db, and Backup (Tx.WriteTo) copies
// free pages too. (Harmless — the token is spent, and the hash does not
// give it back — but the list above is not true of the file.)
func TestA19SpentBootstrapHashGone(t *testing.T) {
	t.Parallel()
	hostile.RequireEmbedded(t, "reads the free pages of coffre.db")
	t.Skip("BUG (minor, doc vs store): the spent bootstrap token's hash stays in a free page of coffre.db and in backups (server/store/boltstore Bootstrap)")
	s := hostile.Start(t)
	l := s.NewOrganisation(t, "Token test")
	admin, err := client.Bootstrap(bg(), t.TempDir(), l, client.BootstrapOptions{
		Name: "Admin", Email: "admin@example.org", Passphrase: hostile.Passphrase,
	})
	if err != nil {
		t.Fatal(err)
	}
	admin.Close()
	h := sha256.Sum256(l.Token)
	file, err := os.ReadFile(filepath.Join(s.Dir(), "coffre.db"))
	if err != nil {
		t.Fatal(err)
	}
	for where, b := range map[string][]byte{"coffre.db": file, "backup": s.Snapshot()} {
		for form, enc := range tokenForms(h[:]) {
			if bytes.Contains(b, enc) {
				t.Errorf("the spent bootstrap token's hash is in %s (%s)", where, form)
			}
		}
	}
}
