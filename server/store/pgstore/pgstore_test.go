package pgstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/server/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) store.Store {
			s, err := Open(t.Context(), cluster.NewDatabase(t))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		OpenBackup: func(t *testing.T, backup []byte) store.Store {
			s := mustOpen(t, cluster.NewDatabase(t))
			if err := s.Restore(t.Context(), bytes.NewReader(backup)); err != nil {
				t.Fatal(err)
			}
			return s
		},
		TimePrecision: time.Microsecond,
	})
}

var base = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

func newOrg(t *testing.T, s *Store, id string) {
	t.Helper()
	h := sha256.Sum256([]byte("token " + id))
	if err := s.CreateOrganisation(t.Context(), store.Organisation{ID: id, Name: id, BootstrapTokenHash: h[:], CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
}

// next returns the entry holding data after head, hashed as a client
// would: SHA-256(PrevHash, Data).
func next(head store.Head, data string) store.LogEntry {
	h := sha256.Sum256(append(bytes.Clone(head.Hash), data...))
	return store.LogEntry{Position: head.Position + 1, PrevHash: head.Hash, Hash: h[:], Data: []byte(data), ReceivedAt: base}
}

// appendRetrying appends data at the end of the organisation log (vault
// "") or of a vault's log through s, reading the head again after each
// conflict as the server does.
func appendRetrying(t *testing.T, s *Store, org, vault, data, spend string) error {
	ctx := t.Context()
	for {
		var head store.Head
		var err error
		if vault == "" {
			head, err = s.LogHead(ctx, org)
		} else {
			head, err = s.VaultLogHead(ctx, org, vault)
		}
		if err == nil {
			entry := []store.LogEntry{next(head, data)}
			if vault == "" {
				_, err = s.AppendLog(ctx, org, entry, spend, base)
			} else {
				_, err = s.AppendVaultLog(ctx, org, vault, entry, base)
			}
		}
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
}

// TestTwoProcesses has writers in two stores, as in two server processes
// on one database, race for the heads of an organisation log and a vault
// log: each log must come out gap-free, chained, and with every entry
// once.
func TestTwoProcesses(t *testing.T) {
	url := cluster.NewDatabase(t)
	procs := []*Store{mustOpen(t, url), mustOpen(t, url)}
	newOrg(t, procs[0], "org")
	const writers, each = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(procs)*writers)
	for _, vault := range []string{"", "vault"} {
		for p, s := range procs {
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						data := fmt.Sprintf("%q: process %d writer %d entry %d", vault, p, w, i)
						if err := appendRetrying(t, s, "org", vault, data, ""); err != nil {
							errs <- fmt.Errorf("appending %s: %w", data, err)
							return
						}
					}
				})
			}
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	const want = 2 * writers * each
	for _, vault := range []string{"", "vault"} {
		for p, s := range procs {
			var log []store.LogEntry
			var head store.Head
			var err error
			if vault == "" {
				log, err = s.ReadLog(t.Context(), "org", 1, want+10)
				if err == nil {
					head, err = s.LogHead(t.Context(), "org")
				}
			} else {
				log, err = s.ReadVaultLog(t.Context(), "org", vault, 1, want+10)
				if err == nil {
					head, err = s.VaultLogHead(t.Context(), "org", vault)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(log) != want {
				t.Fatalf("log %q read by process %d has %d entries, want %d", vault, p, len(log), want)
			}
			seen := map[string]bool{}
			prev := store.Head{}
			for i, e := range log {
				switch wantEntry := next(prev, string(e.Data)); {
				case e.Position != uint64(i+1):
					t.Fatalf("log %q: entry %d has position %d: the log has a gap", vault, i, e.Position)
				case !bytes.Equal(e.PrevHash, wantEntry.PrevHash) || !bytes.Equal(e.Hash, wantEntry.Hash):
					t.Fatalf("log %q: entry %d does not chain onto entry %d", vault, e.Position, e.Position-1)
				case seen[string(e.Data)]:
					t.Fatalf("log %q: entry %d, %q, is in the log twice", vault, e.Position, e.Data)
				case !strings.HasPrefix(string(e.Data), fmt.Sprintf("%q:", vault)):
					t.Fatalf("log %q: entry %d, %q, belongs to another log", vault, e.Position, e.Data)
				}
				seen[string(e.Data)] = true
				prev = store.Head{Position: e.Position, Hash: e.Hash}
			}
			if head.Position != prev.Position || !bytes.Equal(head.Hash, prev.Hash) {
				t.Fatalf("log %q: head read by process %d is %d %x, want %d %x", vault, p, head.Position, head.Hash, prev.Position, prev.Hash)
			}
		}
	}
}

// TestSpendOnce has writers in two processes race to append with the same
// invitation: it is spent once, by exactly one entry.
func TestSpendOnce(t *testing.T) {
	url := cluster.NewDatabase(t)
	procs := []*Store{mustOpen(t, url), mustOpen(t, url)}
	newOrg(t, procs[0], "org")
	inv := store.Invitation{
		ID: "inv", OrgID: "org", TokenHash: []byte("token hash"), Kind: "user", CreatedBy: "admin",
		CreatedAt: base, ExpiresAt: base.Add(time.Hour), State: store.InvitationPending,
	}
	if err := procs[0].CreateInvitation(t.Context(), inv); err != nil {
		t.Fatal(err)
	}
	const writers = 8
	results := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() { results <- appendRetrying(t, procs[w%2], "org", "", fmt.Sprintf("writer %d", w), "inv") })
	}
	wg.Wait()
	close(results)
	spent := 0
	for err := range results {
		switch {
		case err == nil:
			spent++
		case !errors.Is(err, store.ErrInvitationUnusable):
			t.Fatalf("appending with an invitation another writer spends: got error %v, want %v", err, store.ErrInvitationUnusable)
		}
	}
	if spent != 1 {
		t.Fatalf("%d writers spent the invitation, want 1", spent)
	}
	if head, err := procs[1].LogHead(t.Context(), "org"); err != nil || head.Position != 1 {
		t.Fatalf("after one spend the log head is %d, %v; want 1", head.Position, err)
	}
	got, err := procs[1].Invitation(t.Context(), "org", "inv")
	if err != nil || got.State != store.InvitationSpent {
		t.Fatalf("the invitation is %q, %v; want spent", got.State, err)
	}
}

// TestOneDeviceAtOnce has two processes record connections of one device
// at the same instant, as two logins racing: as one after the other,
// exactly one finds no previous connection, and each other one finds a
// connection recorded by another.
func TestOneDeviceAtOnce(t *testing.T) {
	url := cluster.NewDatabase(t)
	procs := []*Store{mustOpen(t, url), mustOpen(t, url)}
	newOrg(t, procs[0], "org")
	const logins = 16
	prevs := make(chan store.Connection, logins)
	errs := make(chan error, logins)
	var wg sync.WaitGroup
	for i := range logins {
		wg.Go(func() {
			c := store.Connection{DeviceID: "device", Time: base, Address: fmt.Sprint("login ", i)}
			prev, err := procs[i%2].RecordConnection(t.Context(), "org", c)
			if err != nil {
				errs <- err
				return
			}
			if prev.Address == c.Address {
				errs <- fmt.Errorf("login %d got itself back as the previous connection", i)
			}
			prevs <- prev
		})
	}
	wg.Wait()
	close(errs)
	close(prevs)
	for err := range errs {
		t.Fatal(err)
	}
	first := 0
	for prev := range prevs {
		if prev == (store.Connection{}) {
			first++
		}
	}
	if first != 1 {
		t.Fatalf("%d of %d logins at once found no previous connection, want 1", first, logins)
	}
	if conns, err := procs[0].Connections(t.Context(), "org", "device", logins); err != nil || len(conns) != 1 {
		t.Fatalf("after %d logins at the same instant, Connections = %d, %v; want 1", logins, len(conns), err)
	}
}

// TestOpenConcurrently opens several stores at once on a new database, as
// server processes starting together: each must find the schema whole.
func TestOpenConcurrently(t *testing.T) {
	url := cluster.NewDatabase(t)
	const processes = 6
	errs := make(chan error, processes)
	var wg sync.WaitGroup
	for range processes {
		wg.Go(func() {
			s, err := Open(t.Context(), url)
			if err == nil {
				_, err = s.Organisations(t.Context())
				s.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Open of a new database by %d processes at once: %v", processes, err)
		}
	}
	s := mustOpen(t, url)
	var versions, latest int
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*), max(version) FROM schema_migrations`).Scan(&versions, &latest); err != nil {
		t.Fatal(err)
	}
	if versions != schemaVersion || latest != schemaVersion {
		t.Fatalf("schema_migrations has %d versions up to %d, want each of 1 to %d once", versions, latest, schemaVersion)
	}
}

// TestOpenNewerSchema checks that a server refuses a database that a newer
// server has migrated, rather than write to tables it does not know.
func TestOpenNewerSchema(t *testing.T) {
	url := cluster.NewDatabase(t)
	s := mustOpen(t, url)
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO schema_migrations (version) VALUES ($1)`, schemaVersion+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(t.Context(), url); err == nil || !strings.Contains(err.Error(), "version") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open of a database at schema version %d: error %v, want one about the version", schemaVersion+1, err)
	}
}

// TestVaultIDs checks that the empty vault id, which would be the
// organisation log, and NUL are refused, and that nothing is written.
func TestVaultIDs(t *testing.T) {
	s := mustOpen(t, cluster.NewDatabase(t))
	ctx := t.Context()
	newOrg(t, s, "org")
	entry := []store.LogEntry{next(store.Head{}, "data")}
	for _, id := range []string{"", "\x00", "vault\x00"} {
		if _, err := s.AppendVaultLog(ctx, "org", id, entry, base); err == nil {
			t.Errorf("AppendVaultLog with vault id %q succeeded", id)
		}
		if _, err := s.ReadVaultLog(ctx, "org", id, 1, 10); err == nil {
			t.Errorf("ReadVaultLog with vault id %q succeeded", id)
		}
		if _, err := s.VaultLogHead(ctx, "org", id); err == nil {
			t.Errorf("VaultLogHead with vault id %q succeeded", id)
		}
	}
	var rows int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM log_entries`).Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("after refused appends the store has %d log entries, %v; want none", rows, err)
	}
}

// TestRestoreRefuses checks that a dump that is cut short, damaged or
// loaded into a store in use loads nothing.
func TestRestoreRefuses(t *testing.T) {
	src := mustOpen(t, cluster.NewDatabase(t))
	ctx := t.Context()
	newOrg(t, src, "org")
	for _, vault := range []string{"", "vault"} {
		for i := range 3 {
			if err := appendRetrying(t, src, "org", vault, fmt.Sprint("entry ", i), ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	var dump bytes.Buffer
	if err := src.Backup(ctx, &dump); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(dump.String(), "\n")
	lines = lines[:len(lines)-1] // after the last newline
	if len(lines) != 9 {
		t.Fatalf("dump of 1 organisation and 6 entries has %d lines, want 9:\n%s", len(lines), dump.String())
	}
	// Line 2 is the organisation, lines 3-5 its log's entries, 6-8 the
	// vault's.
	for name, damaged := range map[string]string{
		"cut short":              strings.Join(lines[:len(lines)-1], ""),
		"cut inside a line":      dump.String()[:dump.Len()-5],
		"without an entry":       strings.Join(pick(lines, 0, 1, 2, 4, 5, 6, 7, 8), ""),
		"with entries swapped":   strings.Join(pick(lines, 0, 1, 2, 3, 4, 6, 5, 7, 8), ""),
		"with a line repeated":   strings.Join(pick(lines, 0, 1, 2, 3, 4, 4, 5, 6, 7, 8), ""),
		"with lines after end":   dump.String() + lines[1],
		"with a wrong count":     strings.Join(lines[:len(lines)-1], "") + `{"end":{"records":6}}` + "\n",
		"in an unknown format":   strings.Replace(dump.String(), backupFormat, "something else", 1),
		"in an unknown version":  strings.Replace(dump.String(), `"version":1`, `"version":2`, 1),
		"with an unknown record": strings.Replace(dump.String(), `{"entry":`, `{"surprise":`, 1),
		"with a damaged hash":    strings.Replace(dump.String(), `"prev_hash":"`, `"prev_hash":"AAAA`, 2),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			dst := mustOpen(t, cluster.NewDatabase(t))
			err := dst.Restore(ctx, strings.NewReader(damaged))
			if err == nil {
				t.Fatalf("Restore of a dump %s succeeded", name)
			}
			t.Log(err)
			var orgs, entries int
			if err := dst.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM organisations), (SELECT count(*) FROM log_entries)`).Scan(&orgs, &entries); err != nil {
				t.Fatal(err)
			}
			if orgs != 0 || entries != 0 {
				t.Fatalf("a refused Restore left %d organisations and %d entries", orgs, entries)
			}
			// The same store takes the whole dump afterwards.
			if err := dst.Restore(ctx, bytes.NewReader(dump.Bytes())); err != nil {
				t.Fatalf("Restore after a refused one: %v", err)
			}
		})
	}
	if err := src.Restore(ctx, bytes.NewReader(dump.Bytes())); err == nil {
		t.Fatal("Restore into the store the dump came from succeeded")
	}
}

// pick returns lines[i] for each i, in that order.
func pick(lines []string, is ...int) []string {
	var out []string
	for _, i := range is {
		out = append(out, lines[i])
	}
	return out
}

// TestIsBackup: a dump is recognised by its header, a bbolt file is not.
func TestIsBackup(t *testing.T) {
	var dump bytes.Buffer
	if err := json.NewEncoder(&dump).Encode(backupHeader{Format: backupFormat, Version: backupVersion}); err != nil {
		t.Fatal(err)
	}
	if !IsBackup(dump.Bytes()) {
		t.Errorf("IsBackup(%q) = false", dump.Bytes())
	}
	bolt := make([]byte, 64)
	copy(bolt[16:], []byte{0xed, 0xda, 0x0c, 0xed})
	for _, head := range [][]byte{nil, []byte("shopping list\n"), bolt} {
		if IsBackup(head) {
			t.Errorf("IsBackup(%q) = true", head)
		}
	}
}
