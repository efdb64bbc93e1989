// Package pgtest starts a throwaway PostgreSQL cluster for tests: initdb in
// a temporary directory, listening only on a Unix socket there, run as the
// postgres user when the tests run as root. Without PostgreSQL's binaries
// Start fails (install postgresql: apt-get install -y postgresql);
// StartOrSkip lets the tests skip instead, saying why, unless the run
// requires PostgreSQL (internal/testlane).
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coffre/coffre/internal/testlane"
)

type Cluster struct {
	dir    string // data directory, socket and log
	exited chan error
	proc   *os.Process
	admin  *pgxpool.Pool // to the postgres database, for CREATE DATABASE
	dbs    atomic.Int64

	// A stand-in for a cluster that could not start: what the tests
	// that ask for a database skip with.
	missing        error
	missingService string
}

const installHint = "install postgresql: apt-get install -y postgresql"

// Start initialises and starts a cluster in a new temporary directory
// whose name begins with prefix.
func Start(prefix string) (*Cluster, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	// /tmp rather than $TMPDIR: as root the server runs as postgres, who
	// must be able to reach the directory, and a socket's path must stay
	// short (about 100 bytes).
	parent := os.TempDir()
	if fi, err := os.Stat("/tmp"); err == nil && fi.IsDir() {
		parent = "/tmp"
	}
	dir, err := os.MkdirTemp(parent, prefix)
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, exited: make(chan error, 1)}
	if err := c.start(bin); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// StartOrSkip is Start for a test binary's TestMain. When PostgreSQL can't
// start and the run does not require it (testlane.ServicesRequired), it
// returns a stand-in whose NewDatabase skips each test that asks for a
// database, saying why, so that the package passes on a machine without
// PostgreSQL. Otherwise an error is returned, as by Start. With -short it
// starts nothing: the tests skip (testlane.ErrShort).
func StartOrSkip(prefix string) (*Cluster, error) {
	if testing.Short() {
		return Unavailable("PostgreSQL", testlane.ErrShort), nil
	}
	c, err := Start(prefix)
	if err != nil && !testlane.ServicesRequired() {
		return Unavailable("PostgreSQL", err), nil
	}
	return c, err
}

// Unavailable returns a stand-in as StartOrSkip does, for a suite that
// needs PostgreSQL and another service, which could not start (err).
func Unavailable(service string, err error) *Cluster {
	return &Cluster{missing: err, missingService: service}
}

// Missing is why a stand-in's cluster could not start; nil for a cluster
// that runs.
func (c *Cluster) Missing() error { return c.missing }

// Installed reports, without starting anything, why Start would fail for
// want of PostgreSQL's binaries; nil when they are there.
func Installed() error {
	_, err := postgresBin()
	return err
}

// postgresBin returns the directory of initdb and postgres: the one in
// PATH, or else the newest of Debian's /usr/lib/postgresql/*/bin, which is
// not in PATH.
func postgresBin() (string, error) {
	if initdb, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(initdb)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) int {
		v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("initdb and postgres are neither in PATH nor in /usr/lib/postgresql/*/bin: " + installHint)
}

func (c *Cluster) start(bin string) error {
	begin := time.Now()
	// PostgreSQL refuses to run as root: as root (CI), run it as postgres,
	// the user Debian's package makes.
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root, and PostgreSQL will not: no postgres user to run it as (%w); %s", err, installHint)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(c.dir, uid, gid); err != nil {
			return err
		}
	}
	command := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir = c.dir // the postgres user may not be able to enter ours
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		return cmd
	}

	data := filepath.Join(c.dir, "data")
	out, err := command("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync").CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	initdb := time.Since(begin)
	// No TCP: only the socket in our directory. Durability is not
	// what these tests are about.
	conf := fmt.Sprintf("\nlisten_addresses = ''\nunix_socket_directories = '%s'\n"+
		"fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n", c.dir)
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(conf)
	if err := errors.Join(err, f.Close()); err != nil {
		return err
	}

	log, err := os.Create(filepath.Join(c.dir, "postgres.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	postgres := command("postgres", "-D", data)
	postgres.Stdout, postgres.Stderr = log, log
	// If the tests die (a timeout's panic), the kernel stops the server:
	// SIGQUIT is PostgreSQL's immediate shutdown. The signal goes when the
	// thread that started it ends, so that thread is kept for as long as
	// the server runs.
	postgres.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	started := make(chan error)
	go func() {
		runtime.LockOSThread()
		if err := postgres.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		c.exited <- postgres.Wait()
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	c.proc = postgres.Process

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		c.admin, err = pgxpool.New(ctx, c.URL("postgres"))
		if err == nil {
			if err = c.admin.Ping(ctx); err == nil {
				break
			}
			c.admin.Close()
			c.admin = nil
		}
		select {
		case err := <-c.exited:
			c.exited <- err
			return fmt.Errorf("postgres exited (%v):\n%s", err, c.Log())
		case <-ctx.Done():
			return fmt.Errorf("postgres not ready after a minute: %v\n%s", err, c.Log())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if testing.Testing() && testing.Verbose() {
		var version string
		_ = c.admin.QueryRow(ctx, `SHOW server_version`).Scan(&version)
		fmt.Fprintf(os.Stderr, "postgres test cluster: PostgreSQL %s up in %v (initdb %v) in %s\n",
			version, time.Since(begin).Round(time.Millisecond), initdb.Round(time.Millisecond), c.dir)
	}
	return nil
}

func (c *Cluster) Log() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
	return string(b)
}

// url is the connection string of one database of the cluster.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("host=%s user=postgres dbname=%s", c.dir, db)
}

// stop shuts the server down (SIGINT is a fast shutdown) and removes
// everything.
func (c *Cluster) Stop() {
	if c.missing != nil {
		return // a stand-in: nothing runs
	}
	if c.admin != nil {
		c.admin.Close()
	}
	if c.proc != nil {
		_ = c.proc.Signal(syscall.SIGINT)
		select {
		case <-c.exited:
		case <-time.After(30 * time.Second):
			_ = c.proc.Kill()
			<-c.exited
		}
	}
	os.RemoveAll(c.dir)
}

// newDatabase creates an empty database, dropped when the test ends, and
// returns its connection string. Register it before opening stores on it,
// so that they are closed first.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	if c.missing != nil {
		testlane.Unavailable(t, c.missingService, c.missing)
	}
	name := fmt.Sprintf("coffre_test_%d", c.dbs.Add(1))
	if _, err := c.admin.Exec(context.Background(), "CREATE DATABASE "+name+" TEMPLATE template0"); err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := c.admin.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping database %s: %v", name, err)
		}
	})
	return c.URL(name)
}

// mustOpen opens a store on url, closed when the test ends.
