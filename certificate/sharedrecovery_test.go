package certificate

import (
	"bytes"
	"testing"
)

// TestSharedRecoveryRules: a shared recovery is the user's own, signed by
// one of their devices, for an active recovery device of theirs, among
// active distinct members who are not the user, with 1 ≤ K ≤ N; the newest
// one is the user's current one (SPEC.md §15.6).
func TestSharedRecoveryRules(t *testing.T) {
	f := newFixture(t)
	bob := f.enrol(ProfileStandard, "bob@x")
	carol := f.enrol(ProfileStandard, "carol@x")
	dave := f.enrol(ProfileStandard, "dave@x")
	gone := f.enrol(ProfileStandard, "gone@x")
	f.mustApply(f.sign(f.admin.key, f.admin.device, UserRevoked{UserID: gone.user})...)
	rec := newMember(t)
	f.mustApply(f.sign(bob.key, bob.device, DeviceAdded{DeviceID: rec.device, UserID: bob.user, Label: "recovery", VerifyKey: rec.key.Public()})...)
	share := func(m member) RecoveryShare {
		return RecoveryShare{MemberID: m.user, Sealed: []byte("sealed"), Commitment: bytes.Repeat([]byte{1}, 32)}
	}
	good := SharedRecoverySet{UserID: bob.user, RecoveryDeviceID: rec.device, Threshold: 2,
		Shares: []RecoveryShare{share(carol), share(dave)}, RecoveryFile: []byte("file")}
	with := func(change func(*SharedRecoverySet)) SharedRecoverySet {
		s := good
		s.Shares = append([]RecoveryShare(nil), good.Shares...)
		change(&s)
		return s
	}
	refused := map[string][]byte{
		"another user's device":             f.sign(carol.key, carol.device, good)[0],
		"for another user":                  f.sign(carol.key, carol.device, with(func(s *SharedRecoverySet) { s.UserID = carol.user }))[0],
		"signed by the recovery device":     f.sign(rec.key, rec.device, good)[0],
		"threshold 0":                       f.sign(bob.key, bob.device, with(func(s *SharedRecoverySet) { s.Threshold = 0 }))[0],
		"threshold above N":                 f.sign(bob.key, bob.device, with(func(s *SharedRecoverySet) { s.Threshold = 3 }))[0],
		"no member":                         f.sign(bob.key, bob.device, with(func(s *SharedRecoverySet) { s.Shares, s.Threshold = nil, 0 }))[0],
		"member twice":                      f.sign(bob.key, bob.device, with(func(s *SharedRecoverySet) { s.Shares[1] = share(carol) }))[0],
		"the user as member":                f.sign(bob.key, bob.device, with(func(s *SharedRecoverySet) { s.Shares[1] = share(bob) }))[0],
		"revoked member":                    f.sign(bob.key, bob.device, with(func(s *SharedRecoverySet) { s.Shares[1] = share(gone) }))[0],
		"unknown member":                    f.sign(bob.key, bob.device, with(func(s *SharedRecoverySet) { s.Shares[1] = share(newMember(t)) }))[0],
		"another user's device as recovery": f.sign(bob.key, bob.device, with(func(s *SharedRecoverySet) { s.RecoveryDeviceID = carol.device }))[0],
		"unknown recovery device":           f.sign(bob.key, bob.device, with(func(s *SharedRecoverySet) { s.RecoveryDeviceID = NewID() }))[0],
		"no recovery file":                  f.sign(bob.key, bob.device, with(func(s *SharedRecoverySet) { s.RecoveryFile = nil }))[0],
		"no commitment":                     f.sign(bob.key, bob.device, with(func(s *SharedRecoverySet) { s.Shares[0].Commitment = nil }))[0],
	}
	for name, cert := range refused {
		t.Run(name, func(t *testing.T) {
			f.t = t
			f.refuse(ErrRule, cert)
		})
	}
	f.t = t
	f.mustApply(f.sign(bob.key, bob.device, good)...)
	cur, ok := f.org.SharedRecovery(bob.user)
	if !ok || cur.Threshold != 2 || len(cur.Shares) != 2 {
		t.Fatalf("bob's shared recovery: %+v, %v", cur, ok)
	}
	if _, ok := cur.Share(carol.user); !ok {
		t.Fatal("carol's share is missing")
	}
	// A newer one replaces it: carol is no longer a member.
	f.mustApply(f.sign(bob.key, bob.device, with(func(s *SharedRecoverySet) { s.Shares, s.Threshold = s.Shares[1:], 1 }))...)
	cur, _ = f.org.SharedRecovery(bob.user)
	if _, ok := cur.Share(carol.user); ok || cur.Threshold != 1 {
		t.Fatalf("the newer shared recovery did not replace the older: %+v", cur)
	}
	// Once the recovery device is revoked, no shared recovery names it.
	f.mustApply(f.sign(bob.key, bob.device, DeviceRevoked{DeviceID: rec.device})...)
	f.refuse(ErrRule, f.sign(bob.key, bob.device, good)...)
}
