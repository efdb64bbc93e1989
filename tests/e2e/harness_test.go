// Package e2e runs the real coffre and coffre-server binaries against each
// other, the way an operator and the people of an organisation use them.
//
// The harness builds both binaries once (TestMain), starts servers on free
// loopback ports (Server), runs client commands in their own data
// directories (Device), and drives enrolments with two concurrent processes
// exchanging their codes through standard input (Enrol).
//
// Device key files use the full scrypt cost (about half a second to a
// second per command): keep the number of commands per test small.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/coffre/coffre/tests/testbackend"
)

// Timeouts of one command, of one enrolment (two processes), and of a
// server start or stop.
const (
	commandTimeout   = 30 * time.Second
	enrolmentTimeout = 60 * time.Second
	serverTimeout    = 15 * time.Second
)

// Paths of the binaries TestMain builds.
var (
	coffreBin string
	serverBin string
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	bin, err := os.MkdirTemp("", "coffre-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(bin)
	build := exec.Command("go", "build", "-o", bin+string(os.PathSeparator), "./cmd/coffre", "./cmd/coffre-server")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building the binaries: %v\n%s", err, out)
		return 1
	}
	coffreBin = filepath.Join(bin, "coffre")
	serverBin = filepath.Join(bin, "coffre-server")
	return testbackend.Main(m)
}

// moduleRoot is the directory of coffre's go.mod, two levels above this
// package's directory (tests/e2e), where go test runs the tests.
func moduleRoot() (string, error) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !bytes.Contains(b, []byte("module github.com/coffre/coffre\n")) {
		return "", fmt.Errorf("%s is not coffre's module root (run the tests from tests/e2e)", root)
	}
	return root, nil
}

// cleanEnv is the environment of the test without any COFFRE_ variable, so
// that the caller's setup can't leak into a command.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COFFRE_") {
			env = append(env, kv)
		}
	}
	return env
}

// Result is what one command did.
type Result struct {
	Args    []string
	Stdout  string
	Stderr  string
	Code    int // -1 when it could not start or was killed
	Elapsed time.Duration
}

// OK reports whether the command exited with status 0.
func (r Result) OK() bool { return r.Code == 0 }

func (r Result) String() string {
	return fmt.Sprintf("%s (exit %d, %v)\n--- stdout:\n%s--- stderr:\n%s", strings.Join(r.Args, " "), r.Code, r.Elapsed.Round(time.Millisecond), r.Stdout, r.Stderr)
}

// run runs a command to its end with a timeout.
func run(t testing.TB, env []string, stdin string, name string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.WaitDelay = time.Second
	cmd.SysProcAttr = noTerminal()
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res := Result{Args: append([]string{filepath.Base(name)}, args...), Stdout: stdout.String(), Stderr: stderr.String(), Elapsed: time.Since(start)}
	res.Code = exitCode(err)
	if ctx.Err() != nil {
		t.Errorf("timeout after %v: %s", commandTimeout, res)
	}
	t.Logf("%s: exit %d in %v", strings.Join(res.Args, " "), res.Code, res.Elapsed.Round(time.Millisecond))
	return res
}

// noTerminal starts a command in a new session, without a controlling
// terminal: it can't ask anything on /dev/tty, as in a script or a CI job.
func noTerminal() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

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

// ---------------------------------------------------------------------------
// Server

// Server is one coffre-server process on a loopback port and a data
// directory; it can be stopped and started again on both.
type Server struct {
	t       testing.TB
	Data    string                 // data directory
	Addr    string                 // host:port it listens on
	Backend testbackend.Deployment // where it keeps its data besides Data

	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	code   int
	output syncBuffer // stdout and stderr of every run
}

// StartServer starts a server on a free port and a new data directory, and
// stops it when the test ends.
func StartServer(t testing.TB) *Server {
	t.Helper()
	return StartServerOn(t, testbackend.New(t))
}

// StartServerOn is StartServer on a backend the test chose.
func StartServerOn(t testing.TB, backend testbackend.Deployment) *Server {
	t.Helper()
	s := &Server{t: t, Data: filepath.Join(t.TempDir(), "server"), Backend: backend}
	t.Cleanup(func() {
		if s.Running() {
			s.Stop()
		}
		if t.Failed() {
			t.Logf("server output:\n%s", s.output.String())
		}
	})
	var err error
	for range 5 { // another process may take the free port first
		s.Addr = freePort(t)
		if err = s.start(); err == nil {
			return s
		}
	}
	t.Fatalf("starting the server: %v", err)
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

// Start starts the server again on the same port and data directory.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("restarting the server: %v", err)
	}
}

func (s *Server) start() error {
	if s.Running() {
		return errors.New("already running")
	}
	cmd := exec.Command(serverBin, append([]string{"run", "--data", s.Data, "--listen", s.Addr}, s.Backend.Args...)...)
	cmd.Env = s.Env()
	cmd.Stderr = &s.output
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd, s.done = cmd, make(chan struct{})
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
		s.code = exitCode(cmd.Wait())
		close(s.done)
	}()
	select {
	case <-listening:
		return nil
	case <-s.done:
		return fmt.Errorf("the server exited with status %d before listening:\n%s", s.code, s.output.String())
	case <-time.After(serverTimeout):
		cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("the server did not say it was listening within %v:\n%s", serverTimeout, s.output.String())
	}
}

// Running reports whether the server process is alive.
func (s *Server) Running() bool {
	if s.done == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Stop sends SIGTERM and waits for the server to exit; a server that does
// not stop cleanly (in time, with status 0) fails the test.
func (s *Server) Stop() {
	s.t.Helper()
	if !s.Running() {
		s.t.Fatalf("stopping a server that is not running")
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(serverTimeout):
		s.cmd.Process.Kill()
		<-s.done
		s.t.Errorf("the server did not stop within %v of SIGTERM", serverTimeout)
		return
	}
	if s.code != 0 {
		s.t.Errorf("the server exited with status %d on SIGTERM (want a clean stop)", s.code)
	}
}

// Output is everything the server printed so far.
func (s *Server) Output() string { return s.output.String() }

// Env is the environment of the server's commands: the test's without
// COFFRE_ variables, plus where the backend keeps the data.
func (s *Server) Env() []string { return append(cleanEnv(), s.Backend.Env...) }

// Run runs a coffre-server command (org, backup …); --data is the caller's.
func (s *Server) Run(args ...string) Result {
	s.t.Helper()
	return run(s.t, s.Env(), "", serverBin, args...)
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

// CreateOrg creates an organisation and returns its id and bootstrap link.
func (s *Server) CreateOrg(name string) (id, bootstrapLink string) {
	s.t.Helper()
	out := s.MustRun("org", "create", "--data", s.Data, name)
	m := regexp.MustCompile(`\(id ([0-9a-f]+)\)`).FindStringSubmatch(out)
	if m == nil {
		s.t.Fatalf("no organisation id in:\n%s", out)
	}
	return m[1], lastLine(s.t, out)
}

// Organisation is a running server with one organisation, bootstrapped by
// its first administrator.
type Organisation struct {
	Server        *Server
	ID            string
	BootstrapLink string
	Admin         *Device
}

// StartOrganisation starts a server, creates the organisation name on it,
// and bootstraps it from a new device of adminName <adminEmail>.
func StartOrganisation(t testing.TB, name, adminName, adminEmail string) *Organisation {
	t.Helper()
	o := &Organisation{Server: StartServer(t)}
	o.ID, o.BootstrapLink = o.Server.CreateOrg(name)
	o.Admin = NewDevice(t, strings.ToLower(adminName))
	o.Admin.Bootstrap(o.BootstrapLink, adminName, adminEmail)
	return o
}

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

func (b *syncBuffer) WriteString(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString(s)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ---------------------------------------------------------------------------
// Devices

// Device is one installation of the client: a data directory (--home) and
// the passphrase of its key file.
type Device struct {
	t          testing.TB
	Name       string
	Home       string
	Passphrase string
	// PassphraseFile, when set, is passed with --passphrase-file and
	// COFFRE_PASSPHRASE is left unset.
	PassphraseFile string
}

// NewDevice returns a device with a new, empty data directory.
func NewDevice(t testing.TB, name string) *Device {
	return &Device{t: t, Name: name, Home: filepath.Join(t.TempDir(), name), Passphrase: "passphrase of " + name}
}

// In returns a copy of the device that reports to t: a subtest must use
// its own copy of the parent's devices.
func (d *Device) In(t testing.TB) *Device {
	c := *d
	c.t = t
	return &c
}

// UsePassphraseFile makes the device read its passphrase from a file
// rather than the environment.
func (d *Device) UsePassphraseFile() {
	d.t.Helper()
	d.PassphraseFile = filepath.Join(d.t.TempDir(), d.Name+".passphrase")
	if err := os.WriteFile(d.PassphraseFile, []byte(d.Passphrase+"\n"), 0o600); err != nil {
		d.t.Fatal(err)
	}
}

func (d *Device) argsAndEnv(args []string) ([]string, []string) {
	full := []string{"--home", d.Home}
	env := cleanEnv()
	if d.PassphraseFile != "" {
		full = append(full, "--passphrase-file", d.PassphraseFile)
	} else {
		env = append(env, "COFFRE_PASSPHRASE="+d.Passphrase)
	}
	return append(full, args...), env
}

// Run runs a coffre command on this device.
func (d *Device) Run(args ...string) Result {
	d.t.Helper()
	full, env := d.argsAndEnv(args)
	return run(d.t, env, "", coffreBin, full...)
}

// MustRun runs a command that must succeed and returns its standard output.
func (d *Device) MustRun(args ...string) string {
	d.t.Helper()
	r := d.Run(args...)
	if !r.OK() {
		d.t.Fatalf("%s: want success: %s", d.Name, r)
	}
	return r.Stdout
}

// MustFail runs a command that must fail with a one-line, lowercase error
// containing want on standard error, and returns its result.
func (d *Device) MustFail(want string, args ...string) Result {
	d.t.Helper()
	r := d.Run(args...)
	wantOneLineError(d.t, r, want)
	return r
}

// wantOneLineError checks that r failed with exactly one line on standard
// error, "coffre: " then a lowercase message containing want.
func wantOneLineError(t testing.TB, r Result, want string) {
	t.Helper()
	if r.OK() {
		t.Errorf("want failure with %q, got success: %s", want, r)
		return
	}
	msg := strings.TrimSuffix(r.Stderr, "\n")
	t.Logf("  stderr: %s", msg)
	if strings.Contains(msg, "\n") {
		t.Errorf("want a one-line error, got:\n%s", r)
	}
	if !strings.Contains(msg, want) {
		t.Errorf("want an error containing %q, got: %s", want, r)
	}
	if rest, ok := strings.CutPrefix(msg, filepath.Base(r.Args[0])+": "); !ok || rest == "" || strings.ToLower(rest[:1]) != rest[:1] {
		t.Errorf("want %q then a lowercase message, got %q", filepath.Base(r.Args[0])+": ", msg)
	}
}

// User is one entry of 'coffre user list --json'.
type User struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	Email     string       `json:"email"`
	Profile   string       `json:"profile"`
	Created   time.Time    `json:"created"`
	Revoked   *time.Time   `json:"revoked"`
	Devices   []UserDevice `json:"devices"`
	Yourself  bool         `json:"yourself"`
	Positions [2]uint64    `json:"log_positions"`
}

// UserDevice is one device of a User.
type UserDevice struct {
	ID      string    `json:"id"`
	Label   string    `json:"label"`
	Created time.Time `json:"created"`
}

// Users runs 'user list --json' (with --all when all is set).
func (d *Device) Users(all bool) []User {
	d.t.Helper()
	args := []string{"user", "list", "--json"}
	if all {
		args = append(args, "--all")
	}
	var users []User
	decodeJSON(d.t, d.MustRun(args...), &users)
	return users
}

// Invitation is one entry of 'coffre invitation list --json'.
type Invitation struct {
	ID       string
	Kind     string
	Email    string
	Profile  string
	State    string
	Expires  time.Time
	Attempts int
}

// Invitations runs 'invitation list --json'.
func (d *Device) Invitations() []Invitation {
	d.t.Helper()
	var invs []Invitation
	decodeJSON(d.t, d.MustRun("invitation", "list", "--json"), &invs)
	return invs
}

// Status is 'coffre status --json'.
type Status struct {
	Organisation    string `json:"organisation"`
	OrganisationID  string `json:"organisation_id"`
	Server          string `json:"server"`
	ServerReachable bool   `json:"server_reachable"`
	UserID          string `json:"user_id"`
	Name            string `json:"name"`
	Email           string `json:"email"`
	Profile         string `json:"profile"`
	Revoked         bool   `json:"revoked"`
	DeviceID        string `json:"device_id"`
	DeviceLabel     string `json:"device_label"`
	LogPosition     uint64 `json:"log_position"`
	LogHead         string `json:"log_head"`
}

func decodeJSON(t testing.TB, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decoding JSON: %v\n%s", err, s)
	}
}

// Bootstrap makes this device the first administrator of the organisation.
func (d *Device) Bootstrap(bootstrapLink, name, email string) {
	d.t.Helper()
	out := d.MustRun("org", "bootstrap", bootstrapLink, "--name", name, "--email", email)
	if !strings.Contains(out, "bootstrapped; you are its first administrator") {
		d.t.Fatalf("bootstrap did not say so:\n%s", out)
	}
}

// InviteUser runs 'user invite' and returns the invitation id and link.
func (d *Device) InviteUser(email, profile string, extra ...string) (id, link string) {
	d.t.Helper()
	return parseInvitation(d.t, d.MustRun(append([]string{"user", "invite", email, "--profile", profile}, extra...)...))
}

// InviteDevice runs 'device invite' and returns the invitation id and link.
func (d *Device) InviteDevice(extra ...string) (id, link string) {
	d.t.Helper()
	return parseInvitation(d.t, d.MustRun(append([]string{"device", "invite"}, extra...)...))
}

// parseInvitation reads the invitation id (first line: "invitation ID …" or
// "device invitation ID …") and the link (the line after "link (").
func parseInvitation(t testing.TB, out string) (id, link string) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^(?:device )?invitation ([0-9a-f]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no invitation id in:\n%s", out)
	}
	return m[1], lineAfter(t, out, "link (")
}

// lineAfter returns the line that follows the first line starting with
// prefix.
func lineAfter(t testing.TB, out, prefix string) string {
	t.Helper()
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) && i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" {
			return strings.TrimSpace(lines[i+1])
		}
	}
	t.Fatalf("no line after %q in:\n%s", prefix, out)
	return ""
}

func lastLine(t testing.TB, out string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	l := strings.TrimSpace(lines[len(lines)-1])
	if l == "" {
		t.Fatalf("no output")
	}
	return l
}

// ---------------------------------------------------------------------------
// Enrolment

// Exchange changes what the people type during an enrolment. Each func gets
// the code the other side shows and returns what is typed; nil types it
// faithfully.
type Exchange struct {
	GreeterTypes func(claimerCode string) string
	ClaimerTypes func(greeterCode string) string
}

// EnrolResult is what both sides of an enrolment did, with the code each
// showed.
type EnrolResult struct {
	Greeter, Claimer         Result
	GreeterCode, ClaimerCode string
}

// Enrol runs 'coffre GREETARGS' on greeter and 'coffre invitation claim LINK
// CLAIMARGS' on claimer at the same time, reads the code each shows ("Your
// code: XXXX"), and types the other side's code into each one's standard
// input, as two people on the phone would. It does not judge the outcome.
func Enrol(t testing.TB, greeter *Device, greetArgs []string, claimer *Device, link string, claimArgs []string, x Exchange) EnrolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), enrolmentTimeout)
	defer cancel()
	g := greeter.startInteractive(ctx, greetArgs...)
	c := claimer.startInteractive(ctx, append([]string{"invitation", "claim", link}, claimArgs...)...)
	var res EnrolResult
	res.GreeterCode, res.ClaimerCode = g.waitCode(ctx), c.waitCode(ctx)
	if res.GreeterCode == "" || res.ClaimerCode == "" {
		cancel() // one side stopped (or timed out) before showing its code
	} else {
		greeterTypes, claimerTypes := res.ClaimerCode, res.GreeterCode
		if x.GreeterTypes != nil {
			greeterTypes = x.GreeterTypes(res.ClaimerCode)
		}
		if x.ClaimerTypes != nil {
			claimerTypes = x.ClaimerTypes(res.GreeterCode)
		}
		g.answer(greeterTypes)
		c.answer(claimerTypes)
	}
	res.Greeter, res.Claimer = g.wait(), c.wait()
	if ctx.Err() == context.DeadlineExceeded {
		t.Errorf("enrolment timed out after %v:\n%s\n%s", enrolmentTimeout, res.Greeter, res.Claimer)
	}
	t.Logf("enrolment: greeter exit %d in %v, claimer exit %d in %v", res.Greeter.Code, res.Greeter.Elapsed.Round(time.Millisecond), res.Claimer.Code, res.Claimer.Elapsed.Round(time.Millisecond))
	return res
}

// interactive is a command whose standard input the test writes as it goes.
type interactive struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout syncBuffer
	stderr syncBuffer
	code   chan string   // the code it shows, once
	done   chan struct{} // closed when it exited
	res    Result
	start  time.Time
}

var codeLine = regexp.MustCompile(`Your code: (\S+)`)

func (d *Device) startInteractive(ctx context.Context, args ...string) *interactive {
	d.t.Helper()
	full, env := d.argsAndEnv(args)
	p := &interactive{code: make(chan string, 1), done: make(chan struct{}), start: time.Now()}
	p.res.Args = append([]string{"coffre"}, full...)
	p.cmd = exec.CommandContext(ctx, coffreBin, full...)
	p.cmd.Env = env
	p.cmd.WaitDelay = time.Second
	p.cmd.SysProcAttr = noTerminal()
	p.cmd.Stderr = &p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		d.t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		d.t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	go func() {
		r := bufio.NewReader(stdout)
		sent := false
		for {
			line, err := r.ReadString('\n')
			p.stdout.WriteString(line)
			if m := codeLine.FindStringSubmatch(line); m != nil && !sent {
				p.code <- m[1]
				sent = true
			}
			if err != nil {
				break
			}
		}
		p.res.Code = exitCode(p.cmd.Wait())
		p.res.Elapsed = time.Since(p.start)
		p.res.Stdout, p.res.Stderr = p.stdout.String(), p.stderr.String()
		close(p.done)
	}()
	return p
}

// waitCode returns the code the process shows, or "" if it exits (or the
// context ends) first.
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

func (p *interactive) answer(line string) {
	io.WriteString(p.stdin, line+"\n")
	p.stdin.Close()
}

func (p *interactive) wait() Result {
	<-p.done
	return p.res
}

// EnrolUser invites email with profile from admin, and enrols newcomer
// (named name) with it; both sides must succeed. It returns the claimer's
// user id and the invitation link.
func EnrolUser(t testing.TB, admin *Device, email, profile string, newcomer *Device, name string) (userID, link string) {
	t.Helper()
	id, link := admin.InviteUser(email, profile)
	res := Enrol(t, admin, []string{"user", "greet", "--yes", id}, newcomer, link, []string{"--name", name}, Exchange{})
	wantEnrolled(t, res)
	if !strings.Contains(res.Greeter.Stdout, fmt.Sprintf("enrolled %s <%s> as user ", name, email)) {
		t.Fatalf("the greeter did not say whom it enrolled:\n%s", res.Greeter)
	}
	return claimedUser(t, res.Claimer), link
}

// EnrolDevice adds newDevice to the user of existing, labelled label; both
// sides must succeed. It returns the user id the new device says it
// belongs to.
func EnrolDevice(t testing.TB, existing, newDevice *Device, label string) (userID string) {
	t.Helper()
	id, link := existing.InviteDevice()
	res := Enrol(t, existing, []string{"device", "greet", "--yes", id}, newDevice, link, []string{"--device-label", label}, Exchange{})
	wantEnrolled(t, res)
	if !strings.Contains(res.Greeter.Stdout, "enrolled device ") || !strings.Contains(res.Greeter.Stdout, "("+label+")") {
		t.Fatalf("the greeter did not say which device it enrolled:\n%s", res.Greeter)
	}
	return claimedUser(t, res.Claimer)
}

func wantEnrolled(t testing.TB, res EnrolResult) {
	t.Helper()
	if !res.Greeter.OK() || !res.Claimer.OK() {
		t.Fatalf("enrolment failed:\n%s\n%s", res.Greeter, res.Claimer)
	}
	if res.GreeterCode == res.ClaimerCode {
		t.Errorf("both sides show the same code %q: the codes must differ by side", res.GreeterCode)
	}
}

var claimedLine = regexp.MustCompile(`enrolled in "[^"]*": user ([0-9a-f]+), device ([0-9a-f]+)`)

func claimedUser(t testing.TB, r Result) string {
	t.Helper()
	m := claimedLine.FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("the claimer did not say it was enrolled: %s", r)
	}
	return m[1]
}

// ---------------------------------------------------------------------------
// Links and files

// withQuery returns link with query parameter key set to value.
func withQuery(t testing.TB, link, key, value string) string {
	t.Helper()
	i := strings.Index(link, "?")
	if i < 0 {
		t.Fatalf("link without a query: %s", link)
	}
	params := strings.Split(link[i+1:], "&")
	found := false
	for j, p := range params {
		if k, _, _ := strings.Cut(p, "="); k == key {
			params[j] = key + "=" + value
			found = true
		}
	}
	if !found {
		t.Fatalf("link without %s=: %s", key, link)
	}
	return link[:i+1] + strings.Join(params, "&")
}

// queryValue returns the value of key in link's query.
func queryValue(t testing.TB, link, key string) string {
	t.Helper()
	_, q, _ := strings.Cut(link, "?")
	for p := range strings.SplitSeq(q, "&") {
		if k, v, _ := strings.Cut(p, "="); k == key {
			return v
		}
	}
	t.Fatalf("link without %s=: %s", key, link)
	return ""
}

// randomToken is a well-formed token no server issued.
func randomToken(t testing.TB) string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// findUser returns the user with email in users.
func findUser(t testing.TB, users []User, email string) User {
	t.Helper()
	for _, u := range users {
		if u.Email == email {
			return u
		}
	}
	t.Fatalf("no user %s in %+v", email, users)
	return User{}
}

// boltContents is every key and value of a bbolt file, nested buckets
// included, keyed by their path: what the file holds, whatever bbolt's own
// bookkeeping pages say.
func boltContents(t testing.TB, path string) map[string]string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("opening %s with bbolt: %v", path, err)
	}
	defer db.Close()
	out := map[string]string{}
	var walk func(prefix string, b *bolt.Bucket) error
	walk = func(prefix string, b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				out[prefix+string(k)+"/"] = ""
				return walk(prefix+string(k)+"/", b.Bucket(k))
			}
			out[prefix+string(k)] = string(v)
			return nil
		})
	}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			out[string(name)+"/"] = ""
			return walk(string(name)+"/", b)
		})
	})
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return out
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	if err := os.WriteFile(to, readFile(t, from), 0o600); err != nil {
		t.Fatal(err)
	}
}

// ---------------------------------------------------------------------------
// Background commands

// Process is a coffre command running in the background: the test writes
// its standard input as it goes (Stdin), or gives it a reader to copy.
type Process struct {
	t      testing.TB
	cmd    *exec.Cmd
	ctx    context.Context
	cancel context.CancelFunc
	start  time.Time
	stdout syncBuffer
	stderr syncBuffer
	// Stdin is the command's standard input when Start was given no
	// reader; Wait closes it.
	Stdin io.WriteCloser
	// State is the exited process (its resource usage), once Wait
	// returned.
	State *os.ProcessState
}

// Start starts a coffre command on this device, killed after timeout.
// With a nil stdin, the test writes standard input through p.Stdin.
func (d *Device) Start(timeout time.Duration, stdin io.Reader, args ...string) *Process {
	d.t.Helper()
	full, env := d.argsAndEnv(args)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	p := &Process{t: d.t, ctx: ctx, cancel: cancel}
	p.cmd = exec.CommandContext(ctx, coffreBin, full...)
	p.cmd.Env = env
	p.cmd.WaitDelay = time.Second
	p.cmd.SysProcAttr = noTerminal()
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if stdin != nil {
		p.cmd.Stdin = stdin
	} else {
		w, err := p.cmd.StdinPipe()
		if err != nil {
			cancel()
			d.t.Fatal(err)
		}
		p.Stdin = w
	}
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		cancel()
		d.t.Fatal(err)
	}
	return p
}

// Wait closes standard input if the test writes it, waits for the
// command to end and returns what it did.
func (p *Process) Wait() Result {
	p.t.Helper()
	if p.Stdin != nil {
		p.Stdin.Close()
	}
	err := p.cmd.Wait()
	timedOut := p.ctx.Err() != nil
	p.cancel()
	p.State = p.cmd.ProcessState
	res := Result{Args: append([]string{"coffre"}, p.cmd.Args[1:]...), Stdout: p.stdout.String(), Stderr: p.stderr.String(),
		Code: exitCode(err), Elapsed: time.Since(p.start)}
	if timedOut {
		p.t.Errorf("timeout: %s", res)
	}
	p.t.Logf("%s: exit %d in %v", strings.Join(res.Args, " "), res.Code, res.Elapsed.Round(time.Millisecond))
	return res
}

// MaxRSS is the peak resident set size of the exited command, in bytes.
func (p *Process) MaxRSS() int64 {
	if p.State == nil {
		p.t.Fatalf("MaxRSS before Wait")
	}
	ru, ok := p.State.SysUsage().(*syscall.Rusage)
	if !ok {
		p.t.Fatalf("no resource usage on this system")
	}
	return ru.Maxrss * 1024 // KiB on Linux
}
