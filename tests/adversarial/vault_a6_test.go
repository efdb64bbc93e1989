package adversarial

import (
	"errors"
	"slices"
	"testing"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/workspace"
)

// TestA6ServerAppendedKeyRefused: the server appends to the organisation
// log a "newer" vault key: a VaultKeyRotated certificate signed by a key
// it controls, by a member who may not rotate (a reader, a contributor),
// or — to check the rules themselves, with the owner's real key — with an
// index other than previous+1, sealed to one user too many (a member of
// the organisation outside the vault, or a user the attacker made up),
// to one too few, or without the previous keys. Every client refuses the
// log (client.ErrBadLog caused by certificate.ErrSignature or ErrRule),
// keeps its head, and goes on writing under the old key; no key is ever
// sealed to the attacker's seal key. A rotation whose canary was made with
// another key than the one sealed (which no rule can see) leaves the
// members with no key at all rather than an unproven one (SECURITY.md A6,
// A5; SPEC.md §11.1, §11.2).
func TestA6ServerAppendedKeyRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a6",
		member{"bob", certificate.ProfileStandard, certificate.RoleReader},
		member{"carol", certificate.ProfileStandard, certificate.RoleContributor},
		member{"eve", certificate.ProfileStandard, certificate.RoleNone})
	av := w.open(t, "alice")
	put(t, av, "/f.txt", []byte("under key 1"))
	mustSync(t, w.sess["bob"])

	state := w.s.LogState(t, w.org)
	v, _ := state.Vault(w.vault)
	current := v.KeyIndex()
	held := w.keys(t, "alice")
	var older []crypto.SecretKey
	for i := uint32(1); i <= current; i++ {
		k, _ := held.Get(i)
		older = append(older, k)
	}
	user := func(name string) *certificate.User { u, _ := state.User(w.user(name)); return u }
	attackerSeal := newSealKey(t)
	madeUp := &certificate.User{ID: certificate.NewID(), Email: "mallory@example.org", SealKey: attackerSeal.Public()}
	members := []*certificate.User{user("alice"), user("bob"), user("carol")}
	bundle := func(index uint32, to []*certificate.User, previous []crypto.SecretKey) certificate.KeyBundle {
		_, b, err := workspace.NewKeyBundle(w.org, w.vault, index, to, previous)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rotation := func(b certificate.KeyBundle) certificate.Statement {
		return certificate.VaultKeyRotated{VaultID: w.vault, Key: b}
	}
	attacker := newSigningKey(t)
	alice, bob, carol := w.dev["alice"], w.dev["bob"], w.dev["carol"]
	next := bundle(current+1, members, older)
	cases := []struct {
		name  string
		certs [][]byte
		cause error
	}{
		{"an attacker's key, as the owner's device", signNext(t, state, attacker, alice.DeviceID, rotation(next)), certificate.ErrSignature},
		{"an attacker's key, as a device nobody enrolled", signNext(t, state, attacker, certificate.NewID(), rotation(next)), certificate.ErrRule},
		{"a reader's device", signNext(t, state, bob.SigningKey, bob.DeviceID, rotation(next)), certificate.ErrRule},
		{"a contributor's device", signNext(t, state, carol.SigningKey, carol.DeviceID, rotation(next)), certificate.ErrRule},
		{"the owner, index previous+2", signNext(t, state, alice.SigningKey, alice.DeviceID, rotation(bundle(current+2, members, older))), certificate.ErrRule},
		{"the owner, index unchanged", signNext(t, state, alice.SigningKey, alice.DeviceID, rotation(bundle(current, members, older))), certificate.ErrRule},
		{"the owner, sealed also to a non-member", signNext(t, state, alice.SigningKey, alice.DeviceID,
			rotation(bundle(current+1, append(slices.Clone(members), user("eve")), older))), certificate.ErrRule},
		{"the owner, sealed also to a made-up user", signNext(t, state, alice.SigningKey, alice.DeviceID,
			rotation(bundle(current+1, append(slices.Clone(members), madeUp), older))), certificate.ErrRule},
		{"the owner, a member left out", signNext(t, state, alice.SigningKey, alice.DeviceID,
			rotation(bundle(current+1, []*certificate.User{user("alice"), user("carol")}, older))), certificate.ErrRule},
		{"the owner, without the previous keys", signNext(t, state, alice.SigningKey, alice.DeviceID,
			rotation(bundle(current+1, members, nil))), certificate.ErrRule},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer w.s.ClearHooks()
			serveExtra(w.s, c.certs...)
			for _, name := range []string{"alice", "bob"} {
				s := w.sess[name]
				before := s.Head()
				err := s.Sync(bg())
				wantErr(t, err, client.ErrBadLog)
				wantCause(t, err, c.cause)
				t.Logf("%s: %v", name, err)
				if !sameHead(s.Head(), before) {
					t.Fatalf("%s's head moved", name)
				}
				if v, _ := s.Organisation().Vault(w.vault); v.KeyIndex() != current {
					t.Fatalf("%s's vault is at key %d", name, v.KeyIndex())
				}
			}
		})
	}

	// The clients go on under the old key.
	av = w.open(t, "alice")
	put(t, av, "/g.txt", []byte("still under the old key"))
	entries := w.s.VaultLog(t, w.org, w.vault)
	if _, body := parseEntry(t, entries[len(entries)-1]); body.GetKeyIndex() != current {
		t.Fatalf("written under key %d, want %d", body.GetKeyIndex(), current)
	}
	// The next real rotation is sealed to the members the verified log
	// names, and to nothing the attacker holds.
	if _, err := w.sess["alice"].RotateVault(bg(), w.vault); err != nil {
		t.Fatal(err)
	}
	v, _ = w.sess["alice"].Organisation().Vault(w.vault)
	newest := v.Keys[len(v.Keys)-1]
	var to []string
	for _, sk := range newest.Sealed {
		to = append(to, sk.UserID)
		for _, as := range []string{sk.UserID, madeUp.ID} {
			if _, err := attackerSeal.Open("vault-key", sealAAD(w.org, w.vault, newest.Index, as), sk.Sealed); err == nil {
				t.Errorf("the key sealed to %s opens with the attacker's seal key", sk.UserID)
			}
		}
	}
	slices.Sort(to)
	want := []string{w.user("alice"), w.user("bob"), w.user("carol")}
	slices.Sort(want)
	if newest.Index != current+1 || !slices.Equal(to, want) {
		t.Fatalf("rotation to key %d sealed to %v, want key %d sealed to %v", newest.Index, to, current+1, want)
	}
	// Control: the members' own keys do open.
	if _, err := w.dev["bob"].SealKey.Open("vault-key", sealAAD(w.org, w.vault, newest.Index, w.user("bob")), sealedTo(newest, w.user("bob"))); err != nil {
		t.Fatal("control: Bob's sealed key does not open with his seal key: the test's associated data is wrong")
	}

	// A rotation signed by the owner whose canary was made with another
	// key than the one sealed: it breaks no rule, but no member accepts
	// the key it can't prove, nor falls back to an older one.
	t.Run("canary of another key", func(t *testing.T) {
		state := w.s.LogState(t, w.org)
		v, _ := state.Vault(w.vault)
		keys := w.keys(t, "alice")
		var older []crypto.SecretKey
		for i := uint32(1); i <= v.KeyIndex(); i++ {
			k, _ := keys.Get(i)
			older = append(older, k)
		}
		b := bundle(v.KeyIndex()+1, members, older)
		b.Canary = bundle(v.KeyIndex()+1, nil, nil).Canary
		w.s.AppendRaw(t, w.org, signNext(t, state, alice.SigningKey, alice.DeviceID, rotation(b))...)
		head := w.s.VaultHead(t, w.org, w.vault)
		for _, name := range []string{"alice", "bob", "carol"} {
			mustSync(t, w.sess[name])
			_, err := w.sess[name].OpenVault(bg(), w.vault)
			if !errors.Is(err, workspace.ErrNoKey) {
				t.Errorf("%s opening the vault with an unproven newest key: %v, want %v", name, err, workspace.ErrNoKey)
			}
		}
		if got := w.s.VaultHead(t, w.org, w.vault); !sameHead(got, head) {
			t.Fatal("something was written under the unproven key")
		}
	})
}

func sealAAD(org, vault string, index uint32, user string) []byte {
	d := crypto.LabeledSum("aad/vault-key", []byte(org), []byte(vault), u32be(index), []byte(user))
	return d[:]
}

func u32be(n uint32) []byte { return []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)} }

func sealedTo(b certificate.KeyBundle, user string) []byte {
	for _, sk := range b.Sealed {
		if sk.UserID == user {
			return sk.Sealed
		}
	}
	return nil
}
