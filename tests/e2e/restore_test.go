package e2e

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/coffre/coffre/internal/testlane"
	"github.com/coffre/coffre/server/store/pgstore/pgtest"
	"github.com/coffre/coffre/tests/testbackend"
)

// TestRestoreEmbedded is the operator's side of a lost store: back up a
// running server, lose coffre.db (damaged, then removed), put the backup
// back with 'coffre-server restore', and the organisation's device works
// again. Restore refuses while a server runs on the data directory and
// refuses anything that is not a backup, without touching the store.
func TestRestoreEmbedded(t *testing.T) {
	longScenario(t)
	t.Parallel()
	testbackend.RequireEmbedded(t, "it restores DATA/coffre.db; TestRestorePostgres covers PostgreSQL")
	o := StartOrganisation(t, "Clinique du Lac", "Alice", "alice@lac.example")
	srv, alice := o.Server, o.Admin
	db := filepath.Join(srv.Data, "coffre.db")
	backup := filepath.Join(t.TempDir(), "coffre.db.bak")
	srv.MustRun("backup", "--data", srv.Data, "--out", backup)

	// What the server does after the backup is not in it.
	laterID, _ := srv.CreateOrg("Clinique des Sables")

	// Not while the server runs: its operator socket answers.
	wantRefused(t, srv, "a server is running on "+srv.Data, "restore", "--data", srv.Data, "--from", backup)

	srv.Stop()

	// Nor while another process holds the store (bbolt's lock), as a
	// server that is starting does.
	locker, err := bolt.Open(db, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	wantRefused(t, srv, "is in use by another process", "restore", "--data", srv.Data, "--from", backup)
	locker.Close()

	// Nothing that is not a backup.
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := readFile(t, backup)
	foreign := filepath.Join(dir, "foreign.db") // a bbolt file, but not a store
	fdb, err := bolt.Open(foreign, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := fdb.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("things")); return err }); err != nil {
		t.Fatal(err)
	}
	fdb.Close()
	for _, c := range []struct{ from, want string }{
		{filepath.Join(dir, "missing.db"), "no such file"},
		{write("empty.db", nil), "is empty, not a coffre backup"},
		{write("notes.txt", []byte("shopping list\n")), "is not a coffre backup"},
		{foreign, "is not a coffre backup: it has no format version"},
		{write("cut.db", good[:len(good)/2]), "is not a coffre backup"},
		{write("dump.jsonl", []byte(`{"format":"coffre-pgstore-backup","version":1}`+"\n")), "is a PostgreSQL dump: give --postgres"},
		{db, "is the store itself"},
	} {
		wantRefused(t, srv, c.want, "restore", "--data", srv.Data, "--from", c.from)
	}
	wantRefused(t, srv, "--from FILE is required", "restore", "--data", srv.Data)

	// The store is damaged: restore puts the backup in place and keeps
	// what was there.
	damaged := []byte("this was coffre.db")
	if err := os.WriteFile(db, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	out := srv.MustRun("restore", "--data", srv.Data, "--from", backup)
	for _, want := range []string{"restored " + db + " from " + backup + " (1 organisation)", "kept as " + db + ".before-restore-", "blocks"} {
		if !strings.Contains(out, want) {
			t.Errorf("restore does not say %q:\n%s", want, out)
		}
	}
	kept, _ := filepath.Glob(db + ".before-restore-*")
	if len(kept) != 1 || !bytes.Equal(readFile(t, kept[0]), damaged) {
		t.Errorf("the replaced store is not kept as coffre.db.before-restore-TIME: %v", kept)
	}
	if got, want := boltContents(t, db), boltContents(t, backup); !maps.Equal(got, want) {
		t.Errorf("coffre.db does not hold what the backup holds after the restore")
	}
	wantNoTemporaries(t, srv.Data)

	srv.Start()
	list := srv.MustRun("org", "list", "--data", srv.Data)
	wantOrg(t, list, o.ID, "Clinique du Lac", "bootstrapped")
	if strings.Contains(list, laterID) {
		t.Errorf("the restored server knows an organisation created after the backup:\n%s", list)
	}
	wantWorks(t, alice, o.ID)

	// The store is gone altogether: restore puts it back, nothing to keep.
	srv.Stop()
	if err := os.Remove(db); err != nil {
		t.Fatal(err)
	}
	out = srv.MustRun("restore", "--data", srv.Data, "--from", backup)
	if !strings.Contains(out, "restored "+db) || strings.Contains(out, "kept as") {
		t.Errorf("restore into a directory without a store:\n%s", out)
	}
	if kept2, _ := filepath.Glob(db + ".before-restore-*"); len(kept2) != 1 {
		t.Errorf("want still one kept store, got %v", kept2)
	}
	srv.Start()
	wantWorks(t, alice, o.ID)

	r := srv.Run("restore", "--help")
	for _, want := range []string{"--from", "--postgres", "before-restore", "rollback", "DATA/blocks", "table blocks", "stop the server"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("restore --help does not mention %q:\n%s", want, r.Stdout)
		}
	}
}

// TestRestorePostgres backs up an organisation from one PostgreSQL
// database through a running server, restores the dump into a second,
// new database, and the organisation's device works against a server on
// it. Restore refuses a database that holds organisations and a dump that
// is cut short, and loads nothing then.
func TestRestorePostgres(t *testing.T) {
	longScenario(t)
	t.Parallel()
	cluster, err := pgtest.Start("coffre-e2e-pg-")
	if err != nil {
		testlane.Unavailable(t, "PostgreSQL", err)
	}
	t.Cleanup(cluster.Stop) // after the databases are dropped
	src, dst := cluster.NewDatabase(t), cluster.NewDatabase(t)

	s := StartServerOn(t, testbackend.Deployment{Env: []string{"COFFRE_SERVER_POSTGRES=" + src}})
	data := s.Data
	orgID, link := s.CreateOrg("Clinique du Lac")
	alice := NewDevice(t, "alice")
	alice.Bootstrap(link, "Alice", "alice@lac.example")
	dump := filepath.Join(t.TempDir(), "dump.jsonl")
	s.MustRun("backup", "--data", data, "--out", dump)
	s.Stop()
	if b := readFile(t, dump); !bytes.HasPrefix(b, []byte(`{"format":"coffre-pgstore-backup"`)) {
		t.Fatalf("the backup of a server on PostgreSQL is not a dump:\n%.200s", b)
	}

	dir := t.TempDir()
	lines := strings.SplitAfter(string(readFile(t, dump)), "\n")
	cut := filepath.Join(dir, "cut.jsonl")
	if err := os.WriteFile(cut, []byte(strings.Join(lines[:len(lines)-2], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, []byte("shopping list\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	embedded := filepath.Join(dir, "coffre.db.bak")
	edb, err := bolt.Open(embedded, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	edb.Close()
	wantRefused(t, s, "is not a PostgreSQL dump", "restore", "--postgres", dst, "--from", embedded)
	wantRefused(t, s, "is not empty (it holds 1 organisation): restore into a new, empty database", "restore", "--postgres", src, "--from", dump)
	wantRefused(t, s, "the dump is cut short", "restore", "--postgres", dst, "--from", cut)
	wantRefused(t, s, "is not a coffre backup", "restore", "--postgres", dst, "--from", notes)
	wantRefused(t, s, "no such file", "restore", "--postgres", dst, "--from", filepath.Join(dir, "missing.jsonl"))
	wantRefused(t, s, "give the password in PGPASSWORD", "restore", "--postgres", "postgres://coffre:secret@db.example/coffre", "--from", dump)

	out := s.MustRun("restore", "--postgres", dst, "--from", dump)
	if !strings.Contains(out, "restored 1 organisation from "+dump) {
		t.Errorf("restore did not say what it restored:\n%s", out)
	}
	wantRefused(t, s, "is not empty", "restore", "--postgres", dst, "--from", dump)

	// The variable does as well as the flag, for every command.
	env := append(cleanEnv(), "COFFRE_SERVER_POSTGRES="+dst)
	list := run(t, env, "", serverBin, "org", "list", "--data", data)
	if !list.OK() {
		t.Fatalf("org list on the restored database: %s", list)
	}
	wantOrg(t, list.Stdout, orgID, "Clinique du Lac", "bootstrapped")
	if r := run(t, env, "", serverBin, "restore", "--from", dump); !strings.Contains(r.Stderr, "is not empty") {
		t.Errorf("restore with %s into a database that holds the organisation: %s", "COFFRE_SERVER_POSTGRES", r)
	}

	s.Backend = testbackend.Deployment{Env: []string{"COFFRE_SERVER_POSTGRES=" + dst}}
	s.Start()
	wantWorks(t, alice, orgID)
	s.Stop()
}

// wantRefused runs a coffre-server command that must fail with a one-line
// error containing want, and leave the data directory as it was.
func wantRefused(t *testing.T, s *Server, want string, args ...string) {
	t.Helper()
	db := filepath.Join(s.Data, "coffre.db")
	before, _ := os.ReadFile(db)
	kept, _ := filepath.Glob(db + ".before-restore-*")
	wantOneLineError(t, s.Run(args...), want)
	after, _ := os.ReadFile(db)
	kept2, _ := filepath.Glob(db + ".before-restore-*")
	if !bytes.Equal(before, after) || len(kept) != len(kept2) {
		t.Errorf("a refused %s changed the data directory", strings.Join(args, " "))
	}
	wantNoTemporaries(t, s.Data)
}

func wantNoTemporaries(t *testing.T, dir string) {
	t.Helper()
	if tmp, _ := filepath.Glob(filepath.Join(dir, ".restore-*")); len(tmp) > 0 {
		t.Errorf("restore left temporary files: %v", tmp)
	}
}

// wantWorks checks that device, bootstrapped in orgID, reaches the server
// and verifies its log: its status and the users it lists.
func wantWorks(t *testing.T, device *Device, orgID string) {
	t.Helper()
	var st Status
	decodeJSON(t, device.MustRun("status", "--json"), &st)
	if !st.ServerReachable || st.OrganisationID != orgID || st.LogPosition != 2 {
		t.Errorf("status after the restore: reachable %v, organisation %s, log position %d; want true, %s, 2", st.ServerReachable, st.OrganisationID, st.LogPosition, orgID)
	}
	findUser(t, device.Users(false), "alice@lac.example")
}
