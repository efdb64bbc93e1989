package adversarial

import (
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/wire"
	"github.com/coffre/coffre/workspace"
)

// Helpers of the emergency tests (SECURITY.md A45–A49, SPEC.md §16).

// emergencyWorld: alice owns the vault with a file in it, bob is a
// contributor (a member who may write, so his client releases keys),
// carol may invoke the vault's emergency policy, dave may not.
func emergencyWorld(t *testing.T, duration time.Duration, approver string) *world {
	t.Helper()
	w := newWorld(t, "patient-1234",
		member{"bob", certificate.ProfileStandard, certificate.RoleContributor},
		member{"carol", certificate.ProfileStandard, certificate.RoleNone},
		member{"dave", certificate.ProfileStandard, certificate.RoleNone})
	put(t, w.open(t, "alice"), "/chart.txt", []byte("allergic to penicillin"))
	err := w.sess["alice"].SetEmergencyPolicy(bg(), w.vault, client.EmergencyPolicyOptions{
		Invokers: []string{"carol@example.org"}, Duration: duration, Approver: approver})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"bob", "carol", "dave"} {
		mustSync(t, w.sess[n])
	}
	return w
}

// noKey checks that a user opens no vault key from their verified log.
func (w *world) noKey(t *testing.T, name string) {
	t.Helper()
	mustSync(t, w.sess[name])
	org := w.sess[name].Organisation()
	v, _ := org.Vault(w.vault)
	if _, err := workspace.OpenKeys(org, v, w.user(name), w.dev[name].SealKey); !errors.Is(err, workspace.ErrNoKey) {
		t.Fatalf("%s opens a vault key without a released invocation: %v", name, err)
	}
}

// refusedEverywhere: the honest server refuses certs sent by name, and
// every client named in clients refuses them from a colluding server.
func (w *world) refusedEverywhere(t *testing.T, name string, certs [][]byte, clients ...string) {
	t.Helper()
	if err := w.appendAs(t, name, certs); err != wire.ErrCertificateRefused {
		t.Fatalf("the server took it: %v", err)
	}
	for _, c := range clients {
		w.refusedByClients(t, c, certs)
	}
}

// releaseTo is bob's release of the newest key to a user, signed by hand.
func (w *world) releaseTo(t *testing.T, to string) certificate.VaultKeyReleased {
	t.Helper()
	g := w.grantFrom(t, "bob", to, certificate.RoleReader, time.Time{})
	return certificate.VaultKeyReleased{VaultID: w.vault, Key: *g.Key, KeyIndex: g.KeyIndex}
}

// TestA45NoAccessWithoutTheCertificate: nothing sealed in advance opens
// the vault for anyone the owners did not make a member. Carol (named by
// the policy) and Dave (not named) hold no key; Dave's invocation is
// refused by the library, the server and every client; a release to Carol
// before she invokes, even signed by a member who may write, is refused;
// after her invocation the key reaches her only when a writer's client
// releases it, and then she reads (SECURITY.md A45, SPEC.md §16.1).
func TestA45NoAccessWithoutTheCertificate(t *testing.T) {
	t.Parallel()
	w := emergencyWorld(t, time.Hour, "")
	w.noKey(t, "carol")
	w.noKey(t, "dave")

	// Dave is not named by the policy.
	_, err := w.sess["dave"].InvokeEmergency(bg(), w.vault, "I want to look")
	wantErr(t, err, client.ErrNotInvoker)
	forged := w.signAs(t, "dave", time.Now(), certificate.EmergencyInvoked{VaultID: w.vault, Reason: "I want to look", Until: time.Now().Add(time.Hour)})
	w.refusedEverywhere(t, "dave", forged, "alice", "bob")

	// A release to Carol before any invocation: bob, who may write,
	// colludes with her.
	early := w.signAs(t, "bob", time.Now(), w.releaseTo(t, "carol"))
	w.refusedEverywhere(t, "bob", early, "alice", "carol")
	w.noKey(t, "carol")

	// A policy set by someone who is not an owner is refused.
	policy := w.signAs(t, "bob", time.Now(), certificate.EmergencyPolicy{VaultID: w.vault, Invokers: []string{w.user("dave")}, Duration: time.Hour})
	w.refusedEverywhere(t, "bob", policy, "alice", "dave")

	// A forged invocation with Carol's device id but another key.
	inv := w.signAs(t, "carol", time.Now(), certificate.EmergencyInvoked{VaultID: w.vault, Reason: "x", Until: time.Now().Add(time.Hour)})
	bad := mutate(t, inv[0], newSigningKey(t), func(*coffrev1.Certificate) {})
	serveExtra(w.s, bad)
	err = w.sess["alice"].Sync(bg())
	w.s.ClearHooks()
	wantErr(t, err, client.ErrBadLog)

	// Carol invokes: a reader with no key until a writer releases it.
	e, err := w.sess["carol"].InvokeEmergency(bg(), w.vault, "patient unconscious in A&E, owner off duty")
	if err != nil {
		t.Fatal(err)
	}
	if !e.Running || e.Released {
		t.Fatalf("invocation: %+v", e)
	}
	w.noKey(t, "carol")
	_, _, err = w.sess["carol"].PrepareVault(bg(), w.vault)
	wantErr(t, err, client.ErrKeyNotReleased)

	// Bob works in the vault: his client releases the key.
	mustSync(t, w.sess["bob"])
	_, done, err := w.sess["bob"].PrepareVault(bg(), w.vault)
	if err != nil {
		t.Fatal(err)
	}
	if len(done.Released) != 1 || done.Released[0] != w.user("carol") {
		t.Fatalf("bob's upkeep: %+v", done)
	}
	if got := string(get(t, w.open(t, "carol"), "/chart.txt")); got != "allergic to penicillin" {
		t.Fatalf("carol read %q", got)
	}
	w.noKey(t, "dave")
	// Carol is a reader: she can't write.
	if err := w.open(t, "carol").Mkdir(bg(), "/x"); !errors.Is(err, workspace.ErrReadOnly) {
		t.Fatalf("an emergency reader wrote: %v", err)
	}
}
