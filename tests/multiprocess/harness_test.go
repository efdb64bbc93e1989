// Package multiprocess runs several real coffre-server processes on one
// PostgreSQL database, behind one address, and checks that clients can't
// tell: Watch events and enrolments cross from one process to the other,
// concurrent writes through both keep every vault log whole, and a process
// killed mid-write loses nothing while clients carry on through the other.
//
// TestMain starts a throwaway PostgreSQL cluster (cluster_test.go) and
// builds coffre and coffre-server (coffre-server with the race detector
// when the tests run with it). Each test gets its own database and its own
// servers: two processes A and B, with one TLS key, and a TCP front in
// front of them (front.go) that links name. Devices are set up in-process
// with the client library and cheap key files (hostile.FastKeys), which
// the real coffre binary reads as well; a device talks to the address of
// the link it was enrolled with, which the tests rewrite to reach A, B or
// the front.
package multiprocess

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	miniogo "github.com/minio/minio-go/v7"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/link"
	"github.com/coffre/coffre/server/store/pgstore/pgtest"
	"github.com/coffre/coffre/server/store/s3blocks/s3test"
	"github.com/coffre/coffre/tests/harness"
	"github.com/coffre/coffre/tests/hostile"
	"github.com/coffre/coffre/tests/testbackend"
)

var (
	cluster *pgtest.Cluster
	minio   *s3test.Server // the bucket servers share, unless a test says otherwise
)

func TestMain(m *testing.M) {
	hostile.FastKeys()
	flag.Parse()
	os.Exit(harness.Main(testbackend.RunFunc(func() int { return runTests(m) }), harness.Options{RaceServer: true}))
}

// runTests builds the binaries (coffre-server with the race detector when
// the tests have it, so that the processes' races are caught too) and
// starts PostgreSQL and MinIO before the tests.
func runTests(m *testing.M) int {
	// The services first: without them (and when the run does not
	// require them) the tests skip, saying why, and nothing is built.
	c, err := pgtest.StartOrSkip("coffre-mp-pg-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "multiprocess tests need a PostgreSQL server:", err)
		return 1
	}
	defer c.Stop()
	cluster = c
	s3, err := s3test.StartOrSkip("coffre-mp-s3-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "multiprocess tests need MinIO:", err)
		return 1
	}
	defer s3.Stop()
	minio = s3
	if c.Missing() != nil {
		return m.Run() // every test starts with a database: it skips there
	}
	if err := s3.Missing(); err != nil {
		cluster = pgtest.Unavailable("MinIO", err)
		return m.Run()
	}
	begin := time.Now()
	if _, _, err := harness.Binaries(); err != nil {
		fmt.Fprintln(os.Stderr, "multiprocess:", err)
		return 1
	}
	built := time.Since(begin)
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "multiprocess: binaries built in %v (coffre-server race detector: %v)\n", built.Round(time.Millisecond), raceEnabled)
	}
	return m.Run()
}

func bg() context.Context { return context.Background() }

// ---------------------------------------------------------------------------
// Servers

// startServer starts a coffre-server process named name on a free port
// with a new data directory, on the database at dbURL, saying public is
// its address; prepare, if not nil, runs on the data directory first (to
// give it a TLS key).
func startServer(t testing.TB, name, dbURL, public string, prepare func(data string), extra ...string) *harness.Server {
	t.Helper()
	return harness.New(t).ServerWith(harness.ServerConfig{
		Name:    name,
		Backend: testbackend.Deployment{Args: []string{"--postgres", dbURL}, Env: minio.Env()},
		Flags:   append([]string{"--public-addr", public}, extra...),
		Prepare: prepare,
	})
}

// ---------------------------------------------------------------------------
// Devices

// device is one installation of the client: its home directory.
type device struct {
	name string
	home string
}

// process is the device as the coffre binary runs on it, reporting to t.
func (d device) process(t testing.TB) *harness.Device {
	t.Helper()
	return harness.DeviceAt(t, d.name, d.home, string(hostile.Passphrase))
}

// coffre runs a coffre command on the device; it must succeed.
func (d device) coffre(t testing.TB, args ...string) string {
	t.Helper()
	return d.process(t).MustRun(args...)
}

// open opens the device's session and fetches the organisation log, as
// every coffre command does; the caller closes it.
func (d device) open(t testing.TB) *client.Session {
	t.Helper()
	s, err := openDevice(d)
	if err != nil {
		t.Fatalf("opening %s: %v", d.name, err)
	}
	return s
}

func openDevice(d device) (*client.Session, error) {
	s, err := client.Open(bg(), d.home, hostile.Passphrase)
	if err != nil {
		return nil, err
	}
	if err := s.Sync(bg()); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// server is the address the device's link names.
func (d device) server(t testing.TB) string {
	t.Helper()
	return hostile.ReadDevice(t, d.home).Link.Address
}

// ---------------------------------------------------------------------------
// The organisation

// world is a database, servers A and B on it behind a front, and an
// organisation with its admin device and one vault.
type world struct {
	t       *testing.T
	dbURL   string
	bucket  string // the servers' bucket, if they keep blocks in one
	db      *pgxpool.Pool
	front   *front
	a, b    *harness.Server
	orgID   string
	admin   device // enrolled through A
	vaultID string
}

// bucketObjects counts the objects in the servers' bucket (0 without one).
func (w *world) bucketObjects(t testing.TB) int {
	t.Helper()
	n := 0
	if w.bucket == "" {
		return 0
	}
	for obj := range minio.Client().ListObjects(bg(), w.bucket, miniogo.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatalf("listing bucket %s: %v", w.bucket, obj.Err)
		}
		n++
	}
	return n
}

// newWorld starts servers A and B (extra are more `run` flags for both;
// without any, they share one new bucket, --blocks s3://…; with --blocks
// dir, B's DATA/blocks is a link to A's),
// creates the organisation through A, bootstraps it from an admin device
// talking to A, and creates the vault "shared".
func newWorld(t *testing.T, extra ...string) *world {
	t.Helper()
	begin := time.Now()
	w := &world{t: t, dbURL: cluster.NewDatabase(t)}
	if len(extra) == 0 {
		url, bucket, err := minio.NewBucket(bg())
		if err != nil {
			t.Fatal(err)
		}
		w.bucket = bucket
		extra = []string{"--blocks", url}
	}
	w.front = startFront(t)
	w.a = startServer(t, "A", w.dbURL, w.front.addr, nil, extra...)
	// One TLS key for both, so that the pin in links holds whichever
	// process answers.
	w.b = startServer(t, "B", w.dbURL, w.front.addr, func(data string) {
		if slices.Contains(extra, "dir") { // --blocks dir: one directory
			if err := os.Symlink(filepath.Join(w.a.Data, "blocks"), filepath.Join(data, "blocks")); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range []string{"tls-cert.pem", "tls-key.pem"} {
			b, err := os.ReadFile(filepath.Join(w.a.Data, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(data, f), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}, extra...)
	w.front.setBackends(w.a.Addr, w.b.Addr)
	var err error
	if w.db, err = pgxpool.New(bg(), w.dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.db.Close)

	var l link.Link
	w.orgID, l = w.a.NewOrganisation("Multiprocess")
	if l.Address != w.front.addr {
		t.Fatalf("the bootstrap link names %s, want the front's address %s", l.Address, w.front.addr)
	}
	l.Address = w.a.Addr
	w.admin = device{name: "admin", home: filepath.Join(t.TempDir(), "admin")}
	s, err := client.Bootstrap(bg(), w.admin.home, l, client.BootstrapOptions{
		Name: "Admin", Email: "admin@example.org", DeviceLabel: "admin-laptop", Passphrase: hostile.Passphrase,
	})
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	defer s.Close()
	info, err := s.CreateVault(bg(), "shared")
	if err != nil {
		t.Fatal(err)
	}
	w.vaultID = info.ID
	t.Logf("organisation set up in %v", time.Since(begin).Round(time.Millisecond))
	return w
}

// enrolDevice adds a device to the user of greeter, in-process: the
// greeter talks to its own server, the new device claims through addr,
// which its link will name from then on.
func (w *world) enrolDevice(t *testing.T, greeter device, name, addr string) device {
	t.Helper()
	begin := time.Now()
	g := greeter.open(t)
	defer g.Close()
	l, inv := hostile.Invite(t, g, "device", "", 0)
	l.Address = addr
	d := device{name: name, home: filepath.Join(t.TempDir(), name)}
	res := hostile.RunEnrolment(t, g, l, inv, d.home, hostile.EnrolOptions{Label: name})
	if res.GreetErr != nil || res.ClaimErr != nil {
		t.Fatalf("enrolling %s: greeter: %v; claimer: %v", name, res.GreetErr, res.ClaimErr)
	}
	res.Session.Close()
	t.Logf("device %s enrolled through %s in %v", name, addr, time.Since(begin).Round(time.Millisecond))
	return d
}

// vaultLog reads the vault's log straight from the database and checks
// that it is whole: positions 1 to n, each entry's PrevHash the hash of
// the one before. It returns n.
func (w *world) vaultLog(t testing.TB) int {
	t.Helper()
	rows, err := w.db.Query(bg(), `SELECT position, prev_hash, hash FROM log_entries WHERE org_id = $1 AND log_id = $2 ORDER BY position`, w.orgID, w.vaultID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	var prev []byte
	for rows.Next() {
		var pos int64
		var prevHash, hash []byte
		if err := rows.Scan(&pos, &prevHash, &hash); err != nil {
			t.Fatal(err)
		}
		n++
		if pos != int64(n) {
			t.Fatalf("vault log: entry %d is at position %d: a gap", n, pos)
		}
		if n > 1 && !bytes.Equal(prevHash, prev) {
			t.Fatalf("vault log: entry %d does not chain to entry %d", n, n-1)
		}
		prev = hash
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var head int64 // none before the first append
	err = w.db.QueryRow(bg(), `SELECT coalesce(max(position), 0) FROM log_heads WHERE org_id = $1 AND log_id = $2`, w.orgID, w.vaultID).Scan(&head)
	if err != nil {
		t.Fatal(err)
	}
	if head != int64(n) {
		t.Fatalf("vault log: %d entries, head at %d", n, head)
	}
	return n
}

// ---------------------------------------------------------------------------
// Binaries' enrolment (both sides as coffre processes)

// enrolProcesses runs `coffre GREETARGS` on greeter and `coffre invitation
// claim LINK CLAIMARGS` on claimer at once, and types each one's code into
// the other, as two people on the phone. Both must succeed.
func enrolProcesses(t testing.TB, greeter device, greetArgs []string, claimer device, invitation string, claimArgs []string) (g, c harness.Result) {
	t.Helper()
	res := harness.Enrol(t, greeter.process(t), greetArgs, claimer.process(t), invitation, claimArgs, harness.Exchange{})
	if !res.Greeter.OK() || !res.Claimer.OK() {
		t.Fatalf("enrolment failed:\n%s\n%s", res.Greeter, res.Claimer)
	}
	return res.Greeter, res.Claimer
}

// withAddress returns the link s naming addr instead.
func withAddress(t testing.TB, s, addr string) string {
	t.Helper()
	l, err := link.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	l.Address = addr
	return l.String()
}
