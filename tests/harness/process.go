package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// CleanEnv is the environment of the test without any COFFRE_ variable, so
// that the caller's setup can't leak into a command.
func CleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COFFRE_") {
			env = append(env, kv)
		}
	}
	return env
}

// FreePort returns a loopback address nothing listens on right now.
// Another process may take it before the caller does: retry on failure.
func FreePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers and readers:
// the output of a process, read by the test while it runs.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// WriteString appends s.
func (b *SyncBuffer) WriteString(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString(s)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// NoTerminal starts a command in a new session, without a controlling
// terminal: it can't ask anything on /dev/tty, as in a script or a CI job.
func NoTerminal() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// ExitCode is a command's exit status from the error of Wait or Run: -1
// when it could not start or was killed by a signal.
func ExitCode(err error) int {
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

// LastLines is the last n lines of s, for a failing test's log.
func LastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
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

// Run runs a command to its end, without a terminal, within
// CommandTimeout (a timeout fails the test), with env as its whole
// environment and stdin as its standard input.
func Run(t testing.TB, env []string, stdin string, name string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.WaitDelay = time.Second
	cmd.SysProcAttr = NoTerminal()
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res := Result{Args: append([]string{filepath.Base(name)}, args...), Stdout: stdout.String(), Stderr: stderr.String(), Elapsed: time.Since(start)}
	res.Code = ExitCode(err)
	if ctx.Err() != nil {
		t.Errorf("timeout after %v: %s", CommandTimeout, res)
	}
	t.Logf("%s: exit %d in %v", strings.Join(res.Args, " "), res.Code, res.Elapsed.Round(time.Millisecond))
	return res
}
