package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
)

// caseUnshare: a vault with N members (the owner and N-1 contributors,
// added through the fast path); the owner removes one with `vault unshare`
// (client.Session.UnshareVault): removal, a new key sealed to the N-1
// who remain, the checkpoint in the vault log. Baseline: N X-Wing seals
// in a loop (crypto.SealTo, one encapsulation each).
func caseUnshare(ctx context.Context, e *env) ([]Row, error) {
	srv, err := e.startServer(ctx, "unshare")
	if err != nil {
		return nil, err
	}
	defer func() { srv.Stop(); os.RemoveAll(srv.Dir) }()
	org, err := e.newOrg(ctx, srv, "unshare")
	if err != nil {
		return nil, err
	}
	defer org.close()
	n := e.sz.unshareMembers
	e.logf("   %s members", fmtCount(n))
	users, err := org.addUsers(ctx, n-1, false)
	if err != nil {
		return nil, err
	}
	info, err := org.admin.CreateVault(ctx, "large")
	if err != nil {
		return nil, err
	}
	if err := org.share(ctx, info.ID, users); err != nil {
		return nil, err
	}
	if _, v, err := org.admin.FindVault(info.ID); err != nil || len(v.Members) != n {
		return nil, fmt.Errorf("the vault has %d members, want %d (%v)", len(v.Members), n, err)
	}

	// The baseline: N encapsulations to the members' keys.
	keys := make([]crypto.SealPublicKey, 0, n)
	for _, u := range users {
		keys = append(keys, u.Seal.Public())
	}
	keys = append(keys, org.sealKey.Public())
	secret := crypto.NewSecretKey().Bytes()
	start := time.Now()
	for _, k := range keys {
		if _, err := crypto.SealTo(k, "bench", []byte("aad"), secret); err != nil {
			return nil, err
		}
	}
	loop := time.Since(start)

	d, err := e.measure("unshare", srv, func() error {
		return org.admin.UnshareVault(ctx, info.ID, users[0].ID)
	})
	if err != nil {
		return nil, fmt.Errorf("unshare: %w", err)
	}
	if _, v, err := org.admin.FindVault(info.ID); err != nil || len(v.Members) != n-1 || v.KeyIndex != 2 {
		return nil, fmt.Errorf("after unshare: %d members, key %d (%v)", len(v.Members), v.KeyIndex, err)
	}
	return []Row{{
		Title:    fmt.Sprintf("unshare a member of a %s-member vault (rotation included)", fmtCount(n)),
		Figure:   fmt.Sprintf("%.3f s", d.Seconds()),
		Baseline: fmt.Sprintf("%s X-Wing seals (encapsulations) in a loop, %.3f s", fmtCount(n), loop.Seconds()),
		Ratio:    fmtRatio(d.Seconds() / loop.Seconds()), Goal: "< 1.5× the loop", Met: metIf(d*2 < 3*loop),
		Note: "client.Session.UnshareVault as `coffre vault unshare` calls it: sync, sign the removal and the rotation (the new key sealed to every remaining member), append, sync, then open the vault and write its checkpoint.",
	}}, nil
}

// caseFirstSync: an organisation of N users with a device each (fast
// path); a new device, with nothing verified yet, opens and syncs: it
// fetches the whole log and verifies every certificate from the root key.
// Baseline: 2N Ed25519 verifications in a loop.
func caseFirstSync(ctx context.Context, e *env) ([]Row, error) {
	srv, err := e.startServer(ctx, "firstsync")
	if err != nil {
		return nil, err
	}
	defer func() { srv.Stop(); os.RemoveAll(srv.Dir) }()
	org, err := e.newOrg(ctx, srv, "firstsync")
	if err != nil {
		return nil, err
	}
	defer org.close()
	n := e.sz.orgUsers
	e.logf("   %s users", fmtCount(n))
	start := time.Now()
	if _, err := org.addUsers(ctx, n-1, false); err != nil {
		return nil, err
	}
	newcomer, err := org.addUsers(ctx, 1, true)
	if err != nil {
		return nil, err
	}
	e.logf("   organisation made in %v", time.Since(start).Round(time.Millisecond))
	head := org.admin.Head().Position
	org.closeAdmin()

	// The baseline: 2N verifications.
	sk, err := crypto.GenerateSigningKey()
	if err != nil {
		return nil, err
	}
	const distinct = 1000
	msgs, sigs := make([][]byte, distinct), make([][]byte, distinct)
	for i := range distinct {
		msgs[i] = crypto.RandomBytes(300) // about a certificate's size
		sigs[i] = sk.Sign("bench", msgs[i])
	}
	vk := sk.Public()
	verifies := 2 * n
	start = time.Now()
	for i := range verifies {
		if err := vk.Verify("bench", msgs[i%distinct], sigs[i%distinct]); err != nil {
			return nil, err
		}
	}
	loop := time.Since(start)

	var got uint64
	d, err := e.measure("firstsync", srv, func() error {
		s, err := client.Open(ctx, newcomer[0].Dir, passphrase)
		if err != nil {
			return err
		}
		defer s.Close()
		if err := s.Sync(ctx); err != nil {
			return err
		}
		got = s.Head().Position
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("first sync: %w", err)
	}
	if got != head {
		return nil, fmt.Errorf("first sync reached %d, the log ends at %d", got, head)
	}
	// Then what every later command of that device pays to open.
	d2, err := e.measure("reopen", srv, func() error {
		s, err := client.Open(ctx, newcomer[0].Dir, passphrase)
		if err != nil {
			return err
		}
		defer s.Close()
		return s.Sync(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("reopen: %w", err)
	}
	base := fmt.Sprintf("%s Ed25519 verifications in a loop, %.3f s", fmtCount(verifies), loop.Seconds())
	return []Row{
		{Title: fmt.Sprintf("a new device's first sync in an organisation of %s users", fmtCount(n)),
			Figure: fmt.Sprintf("%.3f s (%s log entries)", d.Seconds(), fmtCount(int(head))), Baseline: base,
			Ratio: fmtRatio(d.Seconds() / loop.Seconds()), Goal: "< 1.5× the loop", Met: metIf(d*2 < 3*loop),
			Note: "client.Open (unlock, empty local state) then Session.Sync: fetch the whole organisation log, parse and check each page's signatures on every core, fold each certificate in order from the root key, store them and a snapshot of the verified state."},
		{Title: "(info) open that device again and sync (nothing new)",
			Figure: fmt.Sprintf("%.3f s", d2.Seconds()), Baseline: base, Ratio: fmtRatio(d2.Seconds() / loop.Seconds()), Goal: "—", Met: "—",
			Note: "What every later command of a device pays in such an organisation: client.Open (unlock, load the sealed snapshot of the verified state, verify the entries stored beyond it: none here), then Session.Sync (one GetLog, the entry at the head compared)."},
	}, nil
}
