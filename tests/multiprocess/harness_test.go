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
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	miniogo "github.com/minio/minio-go/v7"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/link"
	"github.com/coffre/coffre/server/store/pgstore/pgtest"
	"github.com/coffre/coffre/server/store/s3blocks/s3test"
	"github.com/coffre/coffre/tests/hostile"
)

// Timeouts of one command, of one enrolment, of a server start or stop.
const (
	commandTimeout   = 60 * time.Second
	enrolmentTimeout = 90 * time.Second
	serverTimeout    = 30 * time.Second
)

var (
	cluster   *pgtest.Cluster
	minio     *s3test.Server // the bucket servers share, unless a test says otherwise
	coffreBin string
	serverBin string
)

func TestMain(m *testing.M) {
	hostile.FastKeys()
	flag.Parse()
	os.Exit(runTests(m))
}

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
	bin, err := os.MkdirTemp("", "coffre-mp-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "multiprocess:", err)
		return 1
	}
	defer os.RemoveAll(bin)
	begin := time.Now()
	if err := build(bin); err != nil {
		fmt.Fprintln(os.Stderr, "multiprocess:", err)
		return 1
	}
	built := time.Since(begin)
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "multiprocess: binaries built in %v (coffre-server race detector: %v)\n", built.Round(time.Millisecond), raceEnabled)
	}
	return m.Run()
}

// build builds coffre and coffre-server into dir; coffre-server with the
// race detector when this test binary has it, so that the processes'
// races are caught too.
func build(dir string) error {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return err
	}
	if b, err := os.ReadFile(filepath.Join(root, "go.mod")); err != nil || !bytes.Contains(b, []byte("module github.com/coffre/coffre\n")) {
		return fmt.Errorf("%s is not coffre's module root (run the tests from tests/multiprocess)", root)
	}
	coffreBin, serverBin = filepath.Join(dir, "coffre"), filepath.Join(dir, "coffre-server")
	for _, args := range [][]string{
		{"build", "-o", coffreBin, "./cmd/coffre"},
		append(append([]string{"build"}, raceFlags()...), "-o", serverBin, "./cmd/coffre-server"),
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

func raceFlags() []string {
	if raceEnabled {
		return []string{"-race"}
	}
	return nil
}

// cleanEnv is the environment without any COFFRE_ variable.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COFFRE_") {
			env = append(env, kv)
		}
	}
	return env
}

func bg() context.Context { return context.Background() }

// syncBuffer is a bytes.Buffer safe for concurrent writers and readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ---------------------------------------------------------------------------
// Servers

// server is one coffre-server process on the shared database.
type server struct {
	t      testing.TB
	name   string
	data   string
	addr   string // where it listens
	public string // --public-addr: the front's
	dbURL  string
	extra  []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	code   int
	output syncBuffer
}

// startServer starts a server named name on a free port with a new data
// directory, on the database at dbURL; prepare, if not nil, runs on the
// data directory first (to give it a TLS key). The server is stopped when
// the test ends, and its output shown if the test failed.
func startServer(t testing.TB, name, dbURL, public string, prepare func(data string), extra ...string) *server {
	t.Helper()
	s := &server{t: t, name: name, data: filepath.Join(t.TempDir(), name), public: public, dbURL: dbURL, extra: extra}
	if err := os.MkdirAll(s.data, 0o700); err != nil {
		t.Fatal(err)
	}
	if prepare != nil {
		prepare(s.data)
	}
	t.Cleanup(func() {
		if s.running() {
			s.stop()
		}
		if strings.Contains(s.output.String(), "DATA RACE") {
			t.Errorf("server %s: the race detector found a data race:\n%s", s.name, s.output.String())
		} else if t.Failed() {
			t.Logf("server %s output:\n%s", s.name, s.output.String())
		}
	})
	var err error
	for range 5 { // another process may take the free port first
		s.addr = freePort(t)
		if err = s.start(); err == nil {
			return s
		}
	}
	t.Fatalf("starting server %s: %v", name, err)
	return nil
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (s *server) start() error {
	args := append([]string{"run", "--data", s.data, "--listen", s.addr, "--public-addr", s.public, "--postgres", s.dbURL}, s.extra...)
	cmd := exec.Command(serverBin, args...)
	cmd.Env = append(cleanEnv(), minio.Env()...)
	cmd.Stderr = &s.output
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	listening := make(chan struct{})
	go func() {
		r := bufio.NewReader(stdout)
		seen := false
		for {
			line, err := r.ReadString('\n')
			s.output.Write([]byte(line))
			if !seen && strings.Contains(line, "listening") {
				seen = true
				close(listening)
			}
			if err != nil {
				break
			}
		}
		code := exitCode(cmd.Wait())
		s.mu.Lock()
		s.code = code
		s.mu.Unlock()
		close(done)
	}()
	select {
	case <-listening:
		s.t.Logf("server %s listening on %s in %v", s.name, s.addr, time.Since(begin).Round(time.Millisecond))
		return nil
	case <-done:
		return fmt.Errorf("server %s exited with status %d before listening:\n%s", s.name, s.exitCode(), s.output.String())
	case <-time.After(serverTimeout):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("server %s did not say it was listening within %v:\n%s", s.name, serverTimeout, s.output.String())
	}
}

func (s *server) exitCode() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.code
}

func (s *server) running() bool {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// kill kills the process at once (SIGKILL), as a crash would.
func (s *server) kill() {
	s.t.Helper()
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	cmd.Process.Kill()
	<-done
	s.t.Logf("server %s killed", s.name)
}

// stop sends SIGTERM and wants a clean exit.
func (s *server) stop() {
	s.t.Helper()
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(serverTimeout):
		cmd.Process.Kill()
		<-done
		s.t.Errorf("server %s did not stop within %v of SIGTERM", s.name, serverTimeout)
		return
	}
	// With the race detector, a race found makes the exit status 66.
	if code := s.exitCode(); code != 0 {
		s.t.Errorf("server %s exited with status %d on SIGTERM (want a clean stop)", s.name, code)
	}
}

// run runs a coffre-server command (org create …) against this server's
// data directory.
func (s *server) run(args ...string) string {
	s.t.Helper()
	r := runCommand(s.t, cleanEnv(), serverBin, args...)
	if !r.ok() {
		s.t.Fatalf("want success: %s", r)
	}
	return r.stdout
}

// ---------------------------------------------------------------------------
// Commands

// result is what one command did.
type result struct {
	args           []string
	stdout, stderr string
	code           int
	elapsed        time.Duration
}

func (r result) ok() bool { return r.code == 0 }

func (r result) String() string {
	return fmt.Sprintf("%s (exit %d, %v)\n--- stdout:\n%s--- stderr:\n%s", strings.Join(r.args, " "), r.code, r.elapsed.Round(time.Millisecond), r.stdout, r.stderr)
}

func runCommand(t testing.TB, env []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(bg(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.WaitDelay = time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // no terminal to ask on
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	begin := time.Now()
	err := cmd.Run()
	r := result{args: append([]string{filepath.Base(name)}, args...), stdout: stdout.String(), stderr: stderr.String(), code: exitCode(err), elapsed: time.Since(begin)}
	if ctx.Err() != nil {
		t.Errorf("timeout after %v: %s", commandTimeout, r)
	}
	t.Logf("%s: exit %d in %v", strings.Join(r.args, " "), r.code, r.elapsed.Round(time.Millisecond))
	return r
}

func exitCode(err error) int {
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	default:
		return -1
	}
}

// device is one installation of the client: its home directory.
type device struct {
	name string
	home string
}

func (d device) env() []string {
	return append(cleanEnv(), "COFFRE_PASSPHRASE="+string(hostile.Passphrase))
}

// coffre runs a coffre command on the device; it must succeed.
func (d device) coffre(t testing.TB, args ...string) string {
	t.Helper()
	r := runCommand(t, d.env(), coffreBin, append([]string{"--home", d.home}, args...)...)
	if !r.ok() {
		t.Fatalf("%s: want success: %s", d.name, r)
	}
	return r.stdout
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
	a, b    *server
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
			if err := os.Symlink(filepath.Join(w.a.data, "blocks"), filepath.Join(data, "blocks")); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range []string{"tls-cert.pem", "tls-key.pem"} {
			b, err := os.ReadFile(filepath.Join(w.a.data, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(data, f), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}, extra...)
	w.front.setBackends(w.a.addr, w.b.addr)
	var err error
	if w.db, err = pgxpool.New(bg(), w.dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.db.Close)

	out := w.a.run("org", "create", "--data", w.a.data, "Multiprocess")
	m := regexp.MustCompile(`\(id ([0-9a-f]+)\)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no organisation id in:\n%s", out)
	}
	w.orgID = m[1]
	lines := strings.Split(strings.TrimSpace(out), "\n")
	l, err := link.Parse(strings.TrimSpace(lines[len(lines)-1]))
	if err != nil {
		t.Fatal(err)
	}
	if l.Address != w.front.addr {
		t.Fatalf("the bootstrap link names %s, want the front's address %s", l.Address, w.front.addr)
	}
	l.Address = w.a.addr
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

var codeLine = regexp.MustCompile(`Your code: (\S+)`)

// interactive is a coffre command whose standard input the test writes.
type interactive struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout syncBuffer
	stderr syncBuffer
	code   chan string
	done   chan struct{}
	res    result
}

func (d device) startInteractive(t testing.TB, ctx context.Context, args ...string) *interactive {
	t.Helper()
	full := append([]string{"--home", d.home}, args...)
	p := &interactive{code: make(chan string, 1), done: make(chan struct{})}
	p.res.args = append([]string{"coffre"}, full...)
	p.cmd = exec.CommandContext(ctx, coffreBin, full...)
	p.cmd.Env = d.env()
	p.cmd.WaitDelay = time.Second
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	p.cmd.Stderr = &p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r := bufio.NewReader(stdout)
		sent := false
		for {
			line, err := r.ReadString('\n')
			p.stdout.Write([]byte(line))
			if m := codeLine.FindStringSubmatch(line); m != nil && !sent {
				p.code <- m[1]
				sent = true
			}
			if err != nil {
				break
			}
		}
		p.res.code = exitCode(p.cmd.Wait())
		p.res.elapsed = time.Since(begin)
		p.res.stdout, p.res.stderr = p.stdout.String(), p.stderr.String()
		close(p.done)
	}()
	return p
}

func (p *interactive) waitCode(ctx context.Context) string {
	select {
	case c := <-p.code:
		return c
	case <-p.done:
		select {
		case c := <-p.code:
			return c
		default:
			return ""
		}
	case <-ctx.Done():
		return ""
	}
}

// enrolProcesses runs `coffre GREETARGS` on greeter and `coffre invitation
// claim LINK CLAIMARGS` on claimer at once, and types each one's code into
// the other, as two people on the phone. Both must succeed.
func enrolProcesses(t testing.TB, greeter device, greetArgs []string, claimer device, invitation string, claimArgs []string) (g, c result) {
	t.Helper()
	ctx, cancel := context.WithTimeout(bg(), enrolmentTimeout)
	defer cancel()
	gp := greeter.startInteractive(t, ctx, greetArgs...)
	cp := claimer.startInteractive(t, ctx, append([]string{"invitation", "claim", invitation}, claimArgs...)...)
	gc, cc := gp.waitCode(ctx), cp.waitCode(ctx)
	if gc == "" || cc == "" {
		cancel()
	} else {
		io.WriteString(gp.stdin, cc+"\n")
		io.WriteString(cp.stdin, gc+"\n")
	}
	gp.stdin.Close()
	cp.stdin.Close()
	<-gp.done
	<-cp.done
	if !gp.res.ok() || !cp.res.ok() {
		t.Fatalf("enrolment failed:\n%s\n%s", gp.res, cp.res)
	}
	t.Logf("enrolment: greeter %v, claimer %v", gp.res.elapsed.Round(time.Millisecond), cp.res.elapsed.Round(time.Millisecond))
	return gp.res, cp.res
}

// invitationOf reads the invitation id (first line) and link (the line
// after "link (") that `user invite` and `device invite` print.
func invitationOf(t testing.TB, out string) (id, l string) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^(?:device )?invitation ([0-9a-f]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no invitation id in:\n%s", out)
	}
	lines := strings.Split(out, "\n")
	for i, line := range lines {
		if strings.HasPrefix(line, "link (") && i+1 < len(lines) {
			return m[1], strings.TrimSpace(lines[i+1])
		}
	}
	t.Fatalf("no link in:\n%s", out)
	return "", ""
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
