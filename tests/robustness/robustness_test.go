// Package robustness checks that a damaged store fails safe
// (docs/SECURITY.md A39): whatever one bucket or key of the embedded
// store's file holds, the multi-organisation server neither panics nor
// stops serving the organisations the damage does not touch, and the
// client hands its caller either the bytes that were written or an error.
package robustness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/server"
	"github.com/coffre/coffre/server/store/boltstore"
	"github.com/coffre/coffre/tests/hostile"
)

func TestMain(m *testing.M) {
	hostile.FastKeys()
	os.Exit(hostile.Main(m))
}

// tenant is one organisation of the workload, as its admin's device sees
// it.
type tenant struct {
	id    string
	dir   string // the admin's device, as it was after the workload
	vault string
	files map[string][]byte // path → content written
}

// panics records the handler panics the server recovered from.
type panics struct {
	mu      sync.Mutex
	methods []string
}

func (p *panics) add(method string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.methods = append(p.methods, method)
}

func (p *panics) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.methods
	p.methods = nil
	return out
}

// TestA39StoreDamageSweep builds two organisations (users, a shared vault
// with files, connections, invitations), then for each bucket of the bolt
// file and a sample of each bucket's keys applies one damage — the bucket
// deleted; the key deleted or cut short; its value cut short or with a
// byte flipped — restarts the server on the damaged copy and has both
// admins read and write. The server must not panic (a recovered panic
// fails the test too), the organisation the damage is outside of must work
// in full, and every read that succeeds must return what was written.
func TestA39StoreDamageSweep(t *testing.T) {
	hostile.RequireEmbedded(t, "damages the bolt file of the embedded store")
	var recovered panics
	s := hostile.Start(t, hostile.WithConfig(func(c *server.Config) { c.OnPanic = recovered.add }))
	base := t.TempDir()
	tenants := []*tenant{workload(t, s, filepath.Join(base, "one")), workload(t, s, filepath.Join(base, "two"))}
	snapshot := s.Snapshot()
	if p := recovered.take(); len(p) > 0 {
		t.Fatalf("the server panicked during the workload, in %v", p)
	}

	damages := damagesOf(t, snapshot, tenants)
	t.Logf("%d damages of a %d-byte store", len(damages), len(snapshot))
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			damaged, err := d.apply(snapshot)
			if err != nil {
				t.Fatalf("damaging the copy: %v", err)
			}
			if err := opens(t, damaged); err != nil {
				// Refusing to start on a damaged file is safe; the
				// message names it.
				if d.scope != "" {
					t.Errorf("the store does not open after damage to organisation %s alone: %v", d.scope, err)
				}
				return
			}
			s.Restore(damaged)
			for _, tn := range tenants {
				exercise(t, s, tn, d.scope == "" || d.scope == tn.id)
			}
			if p := recovered.take(); len(p) > 0 {
				t.Errorf("the server panicked (recovered) in %v", p)
			}
		})
	}
}

// workload bootstraps an organisation whose admin enrols a user, creates
// a vault shared with them, and both write files; one invitation is left
// pending. It returns the organisation with the admin's device copied
// aside as it is now.
func workload(t *testing.T, s *hostile.Server, dir string) *tenant {
	t.Helper()
	ctx := t.Context()
	admin := hostile.Bootstrap(t, s, filepath.Join(dir, "admin"))
	bob := hostile.Enrol(t, admin, filepath.Join(dir, "bob"), "user", "bob@example.org", certificate.ProfileStandard)
	for _, sess := range []*client.Session{admin, bob} {
		if _, _, err := sess.Hello(ctx); err != nil {
			t.Fatal(err)
		}
	}
	info, err := admin.CreateVault(ctx, "records")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ShareVault(ctx, info.ID, "bob@example.org", certificate.RoleContributor, time.Time{}); err != nil {
		t.Fatal(err)
	}
	tn := &tenant{id: admin.Identity().OrganisationID, vault: info.ID, files: map[string][]byte{
		"/a.txt":      []byte("the first file"),
		"/docs/b.bin": crypto.RandomBytes(300 << 10),
		"/c.txt":      []byte("the third file"),
	}}
	v, err := admin.OpenVault(ctx, info.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Mkdir(ctx, "/docs"); err != nil {
		t.Fatal(err)
	}
	for _, p := range slices.Sorted(maps.Keys(tn.files)) {
		if _, err := v.Put(ctx, p, bytes.NewReader(tn.files[p]), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := bob.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	bv, err := bob.OpenVault(ctx, info.ID)
	if err != nil {
		t.Fatal(err)
	}
	tn.files["/bob.txt"] = []byte("written by bob")
	if _, err := bv.Put(ctx, "/bob.txt", bytes.NewReader(tn.files["/bob.txt"]), nil); err != nil {
		t.Fatal(err)
	}
	hostile.Invite(t, admin, "user", "carol@example.org", certificate.ProfileStandard)
	if err := admin.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.OpenVault(ctx, info.ID); err != nil { // the admin's device sees bob's file
		t.Fatal(err)
	}
	admin.Close()
	bob.Close()
	tn.dir = filepath.Join(dir, "admin-saved")
	copyTree(t, filepath.Join(dir, "admin"), tn.dir)
	return tn
}

// exercise runs the admin's reads and writes on a fresh copy of their
// device. For an organisation the damage is outside of (!damaged), every
// call must succeed; for the damaged one, any call may fail, but what
// succeeds must be right.
func exercise(t *testing.T, s *hostile.Server, tn *tenant, damaged bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "admin")
	copyTree(t, tn.dir, dir)
	sess, err := client.Open(ctx, dir, hostile.Passphrase)
	if err != nil {
		t.Fatalf("opening the device of %s: %v", tn.id, err)
	}
	defer sess.Close()
	failed := func(what string, err error) bool {
		t.Helper()
		if err == nil {
			return false
		}
		if !damaged {
			t.Errorf("organisation %s, whose data is intact: %s: %v", tn.id, what, err)
		}
		return true
	}
	_, _, err = sess.Hello(ctx)
	failed("hello", err)
	_, err = sess.Connections(ctx, true, 50)
	failed("listing connections", err)
	_, _, err = sess.InviteUser(ctx, "dave@example.org", certificate.ProfileStandard, time.Hour)
	failed("inviting", err)
	_, err = sess.Invitations(ctx)
	failed("listing invitations", err)
	if failed("sync", sess.Sync(ctx)) {
		return
	}
	v, err := sess.OpenVault(ctx, tn.vault)
	if failed("opening the vault", err) {
		return
	}
	if items, err := v.List("/", time.Time{}); !failed("listing the vault", err) {
		var names []string
		for _, i := range items {
			names = append(names, i.Name)
		}
		sort.Strings(names)
		if want := []string{"a.txt", "bob.txt", "c.txt", "docs"}; !slices.Equal(names, want) {
			t.Errorf("organisation %s (damaged: %v): the vault lists %q, want %q", tn.id, damaged, names, want)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(tn.files)) {
		checkGet(t, tn, damaged, func(dest string) error { _, err := v.Get(ctx, p, time.Time{}, dest, nil); return err }, p, tn.files[p])
	}
	content := crypto.RandomBytes(1000)
	if _, err := v.Put(ctx, "/new.txt", bytes.NewReader(content), nil); !failed("writing a file", err) {
		checkGet(t, tn, damaged, func(dest string) error { _, err := v.Get(ctx, "/new.txt", time.Time{}, dest, nil); return err }, "/new.txt", content)
	}
}

// checkGet downloads p and compares it with want.
func checkGet(t *testing.T, tn *tenant, damaged bool, get func(dest string) error, p string, want []byte) {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "got")
	if err := get(dest); err != nil {
		if !damaged {
			t.Errorf("organisation %s, whose data is intact: reading %s: %v", tn.id, p, err)
		}
		return
	}
	got, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("organisation %s (damaged: %v): reading %s gave %d other bytes than the %d written", tn.id, damaged, p, len(got), len(want))
	}
}

// opens reports whether the store opens the damaged file (on a copy:
// Open may write to it).
func opens(t *testing.T, data []byte) error {
	path := filepath.Join(t.TempDir(), "check.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		return err
	}
	return st.Close()
}

// damage is one change to a copy of the bolt file. scope is the
// organisation whose data it touches, "" for data they all share.
type damage struct {
	name  string
	scope string
	apply func(snapshot []byte) ([]byte, error)
}

// damagesOf lists the damages to try: every bucket deleted, and for a
// sample of each bucket's keys (the first, the last and some between;
// fewer with -short or -race), the key deleted or cut short, its value cut short
// or with one byte flipped.
func damagesOf(t *testing.T, snapshot []byte, tenants []*tenant) []damage {
	t.Helper()
	perBucket := 4
	if testing.Short() || raceEnabled {
		perBucket = 1
	}
	rng := rand.New(rand.NewPCG(10, 15))
	names := map[string]string{} // organisation id → "one", "two" in subtest names
	for i, tn := range tenants {
		names[tn.id] = []string{"one", "two"}[i]
	}
	var out []damage
	err := readOnly(t, snapshot, func(tx *bolt.Tx) error {
		var walk func(path [][]byte, b *bolt.Bucket) error
		walk = func(path [][]byte, b *bolt.Bucket) error {
			scope := scopeOf(path)
			label := labelOf(path, names)
			out = append(out, damage{"delete-bucket/" + label, scope, edit(path[:len(path)-1], func(parent bucketLike) error {
				return parent.DeleteBucket(path[len(path)-1])
			})})
			var keys [][]byte
			err := b.ForEach(func(k, v []byte) error {
				if v == nil {
					return walk(append(slices.Clone(path), slices.Clone(k)), b.Bucket(k))
				}
				keys = append(keys, slices.Clone(k))
				return nil
			})
			if err != nil {
				return err
			}
			for i, k := range sample(rng, keys, perBucket) {
				kl := fmt.Sprintf("%s/key%d", label, i)
				k := k
				// Keys under orgs are organisation ids: their scope is theirs.
				kscope := scope
				if len(path) == 1 && string(path[0]) == "orgs" {
					kscope = string(k)
				}
				out = append(out,
					damage{kl + "/delete", kscope, edit(path, func(b bucketLike) error { return b.Delete(k) })},
					damage{kl + "/short-key", kscope, edit(path, func(b bucketLike) error {
						v := slices.Clone(b.Get(k))
						if err := b.Delete(k); err != nil {
							return err
						}
						return b.Put(k[:max(1, len(k)/2)], v)
					})},
					damage{kl + "/short-value", kscope, edit(path, func(b bucketLike) error {
						v := b.Get(k)
						return b.Put(k, slices.Clone(v[:len(v)/2]))
					})},
					damage{kl + "/flip", kscope, edit(path, func(b bucketLike) error {
						v := slices.Clone(b.Get(k))
						if len(v) == 0 {
							v = []byte{0}
						}
						v[len(v)/2] ^= 0x20
						return b.Put(k, v)
					})},
				)
			}
			return nil
		}
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return walk([][]byte{slices.Clone(name)}, b)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sample returns the first and last keys and random ones between, n in
// all at most.
func sample(rng *rand.Rand, keys [][]byte, n int) [][]byte {
	if len(keys) <= n {
		return keys
	}
	picked := map[int]bool{0: true, len(keys) - 1: true}
	for len(picked) < n {
		picked[rng.IntN(len(keys))] = true
	}
	var out [][]byte
	for i := range keys {
		if picked[i] && len(out) < n {
			out = append(out, keys[i])
		}
	}
	return out
}

// scopeOf is the organisation a bucket belongs to: org/<id>/… is <id>'s.
func scopeOf(path [][]byte) string {
	if len(path) >= 2 && string(path[0]) == "org" {
		return string(path[1])
	}
	return ""
}

// labelOf names a bucket path in subtest names, with organisation ids
// and vault ids replaced by short words.
func labelOf(path [][]byte, names map[string]string) string {
	var parts []string
	for i, p := range path {
		switch {
		case names[string(p)] != "":
			parts = append(parts, names[string(p)])
		case i >= 1 && string(path[i-1]) == "vaults":
			parts = append(parts, "vault")
		default:
			parts = append(parts, string(p))
		}
	}
	return strings.Join(parts, "/")
}

// bucketLike is what edits use of a bucket: a *bolt.Bucket, or the
// transaction itself for top-level buckets.
type bucketLike interface {
	Get(k []byte) []byte
	Put(k, v []byte) error
	Delete(k []byte) error
	DeleteBucket(k []byte) error
}

type txBuckets struct{ *bolt.Tx }

func (txBuckets) Get([]byte) []byte        { return nil }
func (txBuckets) Put([]byte, []byte) error { return errors.New("no keys at the top level") }
func (txBuckets) Delete([]byte) error      { return errors.New("no keys at the top level") }

// edit returns a damage that runs fn on the bucket at path of a copy of
// the snapshot.
func edit(path [][]byte, fn func(bucketLike) error) func([]byte) ([]byte, error) {
	path = slices.Clone(path)
	return func(snapshot []byte) ([]byte, error) {
		dir, err := os.MkdirTemp("", "coffre-damage-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		file := filepath.Join(dir, "coffre.db")
		if err := os.WriteFile(file, snapshot, 0o600); err != nil {
			return nil, err
		}
		db, err := bolt.Open(file, 0o600, &bolt.Options{Timeout: time.Second})
		if err != nil {
			return nil, err
		}
		err = db.Update(func(tx *bolt.Tx) error {
			var b bucketLike = txBuckets{tx}
			for i, name := range path {
				var next *bolt.Bucket
				if i == 0 {
					next = tx.Bucket(name)
				} else {
					next = b.(*bolt.Bucket).Bucket(name)
				}
				if next == nil {
					return fmt.Errorf("no bucket %q", name)
				}
				b = next
			}
			return fn(b)
		})
		if err := errors.Join(err, db.Close()); err != nil {
			return nil, err
		}
		return os.ReadFile(file)
	}
}

// readOnly runs fn on a copy of the snapshot.
func readOnly(t *testing.T, snapshot []byte, fn func(*bolt.Tx) error) error {
	file := filepath.Join(t.TempDir(), "coffre.db")
	if err := os.WriteFile(file, snapshot, 0o600); err != nil {
		return err
	}
	db, err := bolt.Open(file, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(fn)
}

// copyTree copies a device's directory, modes kept.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm())
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
}
