package harness

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coffre/coffre/client"
)

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
	// FullCost makes the key files this device writes use the full scrypt
	// work factor, as a person's do; by default they use a low one
	// (client.TestWorkFactorEnv, read by the coffre_testcost build the
	// harness runs), and every command of the device is about a second
	// cheaper. Key files are read at whatever cost they were written with.
	FullCost bool

	bin string // the coffre binary
}

// NewDevice returns a device with a new, empty data directory and the
// passphrase "passphrase of NAME".
func NewDevice(t testing.TB, name string) *Device {
	t.Helper()
	return DeviceAt(t, name, filepath.Join(t.TempDir(), name), "passphrase of "+name)
}

// DeviceAt returns the device whose data directory is home (one the test
// set up in-process, say).
func DeviceAt(t testing.TB, name, home, passphrase string) *Device {
	t.Helper()
	return &Device{t: t, Name: name, Home: home, Passphrase: passphrase, bin: Coffre(t)}
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

// testWorkFactor is the scrypt work factor of the key files devices write
// unless FullCost: 2^10, as the golden scripts use.
const testWorkFactor = "10"

func (d *Device) argsAndEnv(args []string) ([]string, []string) {
	full := []string{"--home", d.Home}
	if len(args) > 0 && args[0] == "__complete" {
		// A shell asks for completions with the request first and the
		// words typed after it.
		full = append([]string{args[0]}, full...)
		args = args[1:]
	}
	env := CleanEnv()
	if !d.FullCost {
		env = append(env, client.TestWorkFactorEnv+"="+testWorkFactor)
	}
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
	return Run(d.t, env, "", d.bin, full...)
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
	WantOneLineError(d.t, r, want)
	return r
}

// wantOneLineError checks that r failed with exactly one line on standard
// error, "coffre: " then a lowercase message containing want.
func WantOneLineError(t testing.TB, r Result, want string) {
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
	DecodeJSON(d.t, d.MustRun(args...), &users)
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
	DecodeJSON(d.t, d.MustRun("invitation", "list", "--json"), &invs)
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

func DecodeJSON(t testing.TB, s string, v any) {
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
	return ParseInvitation(d.t, d.MustRun(append([]string{"user", "invite", email, "--profile", profile}, extra...)...))
}

// InviteDevice runs 'device invite' and returns the invitation id and link.
func (d *Device) InviteDevice(extra ...string) (id, link string) {
	d.t.Helper()
	return ParseInvitation(d.t, d.MustRun(append([]string{"device", "invite"}, extra...)...))
}

// parseInvitation reads the invitation id (first line: "invitation ID …" or
// "device invitation ID …") and the link (the line after "link (").
func ParseInvitation(t testing.TB, out string) (id, link string) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^(?:device )?invitation ([0-9a-f]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no invitation id in:\n%s", out)
	}
	return m[1], LineAfter(t, out, "link (")
}

// lineAfter returns the line that follows the first line starting with
// prefix.
func LineAfter(t testing.TB, out, prefix string) string {
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

// Process is a coffre command running in the background: the test writes
// its standard input as it goes (Stdin), or gives it a reader to copy.
type Process struct {
	t      testing.TB
	cmd    *exec.Cmd
	ctx    context.Context
	cancel context.CancelFunc
	start  time.Time
	stdout SyncBuffer
	stderr SyncBuffer
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
	p.cmd = exec.CommandContext(ctx, d.bin, full...)
	p.cmd.Env = env
	p.cmd.WaitDelay = time.Second
	p.cmd.SysProcAttr = NoTerminal()
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
		Code: ExitCode(err), Elapsed: time.Since(p.start)}
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

// Pid is the process id of the running command.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stdout is what the command wrote on standard output so far.
func (p *Process) Stdout() string { return p.stdout.String() }

// Stderr is what the command wrote on standard error so far.
func (p *Process) Stderr() string { return p.stderr.String() }
