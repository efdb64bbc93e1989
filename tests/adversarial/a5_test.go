package adversarial

import (
	"testing"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/tests/hostile"
)

// TestA5RecipientKeyFromChainOnly: a user's seal public key (what vault keys
// will be sealed to) comes only from their certificate in the verified
// log; a server that substitutes its own key is refused, and the client
// keeps the genuine key (SECURITY.md A5).
func TestA5RecipientKeyFromChainOnly(t *testing.T) {
	t.Parallel()
	s := hostile.Start(t)
	d := dirs(t, "admin", "tablet", "bob")
	admin := hostile.Bootstrap(t, s, d["admin"])
	// The victim: the admin's second device, which will learn about Bob
	// from the server's log.
	tablet := hostile.Enrol(t, admin, d["tablet"], "device", "", 0)
	hostile.Enrol(t, admin, d["bob"], "user", "bob@example.org", certificate.ProfileStandard)
	org := admin.Identity().OrganisationID
	bob := hostile.ReadDevice(t, d["bob"])
	genuine := bob.SealKey.Public()
	attackerSeal := newSealKey(t).Public()
	attacker := newSigningKey(t)

	stored := s.Log(t, org)
	const bobPos = 4 // 1-2 admin, 3 tablet, 4 Bob, 5 Bob's device
	if _, body := parseCert(t, stored[bobPos-1]); body.GetUser().GetUserId() != bob.UserID {
		t.Fatalf("position %d is not Bob's certificate", bobPos)
	}
	swap := func(b *coffrev1.Certificate) { b.GetUser().SealPublicKey = attackerSeal.Bytes() }
	before := tablet.Head()
	for _, c := range []struct {
		name  string
		data  []byte
		cause error
	}{
		{"signature kept", mutate(t, stored[bobPos-1], nil, swap), certificate.ErrSignature},
		{"re-signed by the server", mutate(t, stored[bobPos-1], attacker, swap), certificate.ErrSignature},
		{"re-signed as the root key", mutate(t, stored[bobPos-1], attacker, func(b *coffrev1.Certificate) {
			swap(b)
			b.Author = ""
		}), certificate.ErrRule},
	} {
		t.Run(c.name, func(t *testing.T) {
			serveReplaced(s, map[uint64][]byte{bobPos: c.data})
			err := tablet.Sync(bg())
			wantErr(t, err, client.ErrBadLog)
			wantCause(t, err, c.cause)
			if !sameHead(tablet.Head(), before) {
				t.Fatal("head moved")
			}
			if _, ok := tablet.Organisation().User(bob.UserID); ok {
				t.Fatal("Bob is in the verified state from a refused log")
			}
			for _, u := range tablet.Organisation().Users() {
				if u.SealKey.Equal(attackerSeal) {
					t.Fatal("the attacker's seal key is in the verified state")
				}
			}
		})
	}
	tablet = unchanged(t, tablet, d["tablet"], before)

	s.ClearHooks()
	mustSync(t, tablet)
	u, ok := tablet.Organisation().User(bob.UserID)
	if !ok || !u.SealKey.Equal(genuine) || u.SealKey.Equal(attackerSeal) {
		t.Fatal("Bob's verified seal key is not his own")
	}
}
