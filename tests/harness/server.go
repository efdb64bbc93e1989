package harness

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coffre/coffre/link"
	"github.com/coffre/coffre/tests/testbackend"
)

// ServerConfig says how to start a coffre-server process.
type ServerConfig struct {
	// Name is the server's name in the test's log ("server" if empty) and
	// the name of its data directory.
	Name string
	// Backend is where it keeps its data besides its data directory.
	Backend testbackend.Deployment
	// Flags go on `coffre-server run`'s command line after --data and
	// --listen (e.g. --public-addr).
	Flags []string
	// Prepare, if not nil, runs on the new data directory before the
	// first start (to give it a TLS key, say).
	Prepare func(data string)
}

// Server is one coffre-server process on a loopback port and a data
// directory; it can be stopped, killed and started again on both.
type Server struct {
	t       testing.TB
	Name    string
	Data    string                 // data directory
	Addr    string                 // host:port it listens on
	Backend testbackend.Deployment // where it keeps its data besides Data
	flags   []string
	bin     string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	code   int
	output SyncBuffer // stdout and stderr of every run
}

// startServer starts a server on a free port and a new data directory.
// It is stopped when the test ends, where it must stop cleanly and, with
// the race detector, without a race; its output is shown if the test
// failed.
func startServer(t testing.TB, c ServerConfig) *Server {
	t.Helper()
	if c.Name == "" {
		c.Name = "server"
	}
	s := &Server{t: t, Name: c.Name, Data: filepath.Join(t.TempDir(), c.Name), Backend: c.Backend, flags: c.Flags, bin: CoffreServer(t)}
	if c.Prepare != nil {
		if err := os.MkdirAll(s.Data, 0o700); err != nil {
			t.Fatal(err)
		}
		c.Prepare(s.Data)
	}
	t.Cleanup(func() {
		if s.Running() {
			s.Stop()
		}
		if out := s.output.String(); strings.Contains(out, "DATA RACE") {
			t.Errorf("%s: the race detector found a data race:\n%s", s.Name, out)
		} else if t.Failed() {
			t.Logf("%s output:\n%s", s.Name, out)
		}
	})
	var err error
	for range 5 { // another process may take the free port first
		s.Addr = FreePort(t)
		if err = s.start(); err == nil {
			return s
		}
	}
	t.Fatalf("starting %s: %v", s.Name, err)
	return nil
}

var errRunning = errors.New("already running")

// Start starts the server again on the same port and data directory,
// waiting while the port is still held by the process before.
func (s *Server) Start() {
	s.t.Helper()
	var err error
	for range 50 {
		if err = s.start(); err == nil || errors.Is(err, errRunning) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("restarting %s: %v", s.Name, err)
	}
}

func (s *Server) start() error {
	if s.Running() {
		return errRunning
	}
	cmd := exec.Command(s.bin, append(append([]string{"run", "--data", s.Data, "--listen", s.Addr}, s.Backend.Args...), s.flags...)...)
	cmd.Env = s.Env()
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
			s.output.WriteString(line)
			if !seen && strings.Contains(line, "listening") {
				seen = true
				close(listening)
			}
			if err != nil {
				break
			}
		}
		code := ExitCode(cmd.Wait())
		s.mu.Lock()
		s.code = code
		s.mu.Unlock()
		close(done)
	}()
	select {
	case <-listening:
		s.t.Logf("%s listening on %s in %v", s.Name, s.Addr, time.Since(begin).Round(time.Millisecond))
		return nil
	case <-done:
		return fmt.Errorf("%s exited with status %d before listening:\n%s", s.Name, s.exitCode(), s.output.String())
	case <-time.After(ServerTimeout):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s did not say it was listening within %v:\n%s", s.Name, ServerTimeout, s.output.String())
	}
}

func (s *Server) exitCode() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.code
}

func (s *Server) process() (*exec.Cmd, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd, s.done
}

// Running reports whether the server process is alive.
func (s *Server) Running() bool {
	_, done := s.process()
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

// Stop sends SIGTERM and waits for the server to exit; a server that does
// not stop cleanly (in time, with status 0; 66 is a race found) fails the
// test.
func (s *Server) Stop() {
	s.t.Helper()
	if !s.Running() {
		s.t.Fatalf("stopping %s, which is not running", s.Name)
	}
	cmd, done := s.process()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(ServerTimeout):
		cmd.Process.Kill()
		<-done
		s.t.Errorf("%s did not stop within %v of SIGTERM", s.Name, ServerTimeout)
		return
	}
	if code := s.exitCode(); code != 0 {
		s.t.Errorf("%s exited with status %d on SIGTERM (want a clean stop)", s.Name, code)
	}
}

// Kill kills the process at once (SIGKILL), as a crash would, and waits
// for it to be gone.
func (s *Server) Kill() {
	s.t.Helper()
	if !s.Running() {
		s.t.Fatalf("killing %s, which is not running", s.Name)
	}
	cmd, done := s.process()
	cmd.Process.Kill()
	<-done
	s.t.Logf("%s killed", s.Name)
}

// Output is everything the server printed so far.
func (s *Server) Output() string { return s.output.String() }

// Env is the environment of the server's commands: the test's without
// COFFRE_ variables, plus where the backend keeps the data.
func (s *Server) Env() []string { return append(CleanEnv(), s.Backend.Env...) }

// Run runs a coffre-server command (org, backup …); --data is the caller's.
func (s *Server) Run(args ...string) Result {
	s.t.Helper()
	return Run(s.t, s.Env(), "", s.bin, args...)
}

// MustRun runs a coffre-server command that must succeed and returns its
// standard output.
func (s *Server) MustRun(args ...string) string {
	s.t.Helper()
	r := s.Run(args...)
	if !r.OK() {
		s.t.Fatalf("want success: %s", r)
	}
	return r.Stdout
}

// CreateOrg creates an organisation (`coffre-server org create`) and
// returns its id and bootstrap link.
func (s *Server) CreateOrg(name string) (id, bootstrapLink string) {
	s.t.Helper()
	out := s.MustRun("org", "create", "--data", s.Data, name)
	m := regexp.MustCompile(`\(id ([0-9a-f]+)\)`).FindStringSubmatch(out)
	if m == nil {
		s.t.Fatalf("no organisation id in:\n%s", out)
	}
	return m[1], LastLine(s.t, out)
}

// NewOrganisation is CreateOrg for the client library: the id and the
// parsed bootstrap link.
func (s *Server) NewOrganisation(name string) (id string, bootstrap link.Link) {
	s.t.Helper()
	id, l := s.CreateOrg(name)
	bootstrap, err := link.Parse(l)
	if err != nil {
		s.t.Fatalf("org create: %v in %q", err, l)
	}
	return id, bootstrap
}

// CountBlocks counts the blocks the server stores for a vault.
func (s *Server) CountBlocks(t testing.TB, orgID, vaultID string) int {
	t.Helper()
	return s.Backend.CountBlocks(t, s.Data, orgID, vaultID)
}

// CountSmallBlocks counts the small blocks of batches the embedded store
// keeps for a vault in coffre.db (CountBlocks counts files and objects);
// call it with the server stopped.
func (s *Server) CountSmallBlocks(t testing.TB, orgID, vaultID string) int {
	t.Helper()
	return s.Backend.CountSmallBlocks(t, s.Data, orgID, vaultID)
}

// LastLine is the last non-empty line of a command's output; no output
// fails the test.
func LastLine(t testing.TB, out string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	l := strings.TrimSpace(lines[len(lines)-1])
	if l == "" {
		t.Fatalf("no output")
	}
	return l
}
