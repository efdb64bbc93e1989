// Package harness runs coffre the way its people and operators do, for the
// suites that need real processes (tests/e2e, tests/sync,
// tests/multiprocess; tests/bench builds with it): it builds the coffre and
// coffre-server binaries once per test binary, starts servers on free
// loopback ports on either backend (testbackend: embedded bbolt, or
// PostgreSQL + S3), runs client commands in their own data directories, and
// drives enrolments with two concurrent processes exchanging their codes
// through standard input, as two people on the phone.
//
// A test makes a world and asks it for what it needs:
//
//	w := harness.New(t)
//	srv := w.Server(testbackend.New(t))
//	alice := w.Device("alice")
//	w.EnrolUser(admin, "alice@example.org", "standard", alice, "Alice")
//
// Everything a world makes lives in the test's temporary directories and
// stops when the test ends, so tests that make their own worlds can run in
// parallel. Suites run their tests through Main, which removes the
// binaries at the end.
package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/tests/testbackend"
)

// Timeouts of one command, of one enrolment (two processes), and of a
// server start or stop: bounds for a hung process on a loaded machine
// (coffre-server may run with the race detector), not expectations.
const (
	CommandTimeout   = 60 * time.Second
	EnrolmentTimeout = 90 * time.Second
	ServerTimeout    = 30 * time.Second
)

// BinEnv names a directory holding prebuilt coffre and coffre-server
// binaries to use instead of building them (e.g. while the module does not
// build).
const BinEnv = "COFFRE_TEST_BIN"

// Options change how Main builds the binaries.
type Options struct {
	// RaceServer builds coffre-server with the race detector when this
	// test binary has it, so that the server processes' races are caught
	// too (a race found makes the server exit with status 66).
	RaceServer bool
}

var (
	buildOpts Options
	buildOnce sync.Once
	buildErr  error
	binDir    string // removed by Main, unless prebuilt
	coffreBin string
	serverBin string
)

// Main runs a suite's tests on the backend of this run (testbackend.Main)
// and removes the binaries built for it; it returns the exit code for
// os.Exit:
//
//	func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }
func Main(m testbackend.Runner, opts ...Options) int {
	for _, o := range opts {
		buildOpts.RaceServer = buildOpts.RaceServer || o.RaceServer
	}
	code := testbackend.Main(m)
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	return code
}

// Binaries returns the paths of the coffre and coffre-server binaries,
// building them on first use (or taking them from $COFFRE_TEST_BIN).
func Binaries() (coffre, server string, err error) {
	buildOnce.Do(func() {
		if dir := os.Getenv(BinEnv); dir != "" {
			coffreBin, serverBin = filepath.Join(dir, "coffre"), filepath.Join(dir, "coffre-server")
			return
		}
		dir, err := os.MkdirTemp("", "coffre-test-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binDir = dir
		var serverFlags []string
		if buildOpts.RaceServer && raceEnabled {
			serverFlags = []string{"-race"}
		}
		// coffre_testcost: the binary reads client.TestWorkFactorEnv,
		// which devices set (Device.FullCost), so that commands don't
		// each spend a second on scrypt.
		if buildErr = Build(context.Background(), dir, []string{"-tags", "coffre_testcost"}, "./cmd/coffre"); buildErr != nil {
			return
		}
		if buildErr = Build(context.Background(), dir, serverFlags, "./cmd/coffre-server"); buildErr != nil {
			return
		}
		coffreBin, serverBin = filepath.Join(dir, "coffre"), filepath.Join(dir, "coffre-server")
	})
	return coffreBin, serverBin, buildErr
}

// binaries is Binaries for a test: a build that fails fails the test.
func binaries(t testing.TB) (coffre, server string) {
	t.Helper()
	c, s, err := Binaries()
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

// Coffre is the path of the coffre binary, built on first use.
func Coffre(t testing.TB) string {
	t.Helper()
	c, _ := binaries(t)
	return c
}

// CoffreServer is the path of the coffre-server binary, built on first
// use.
func CoffreServer(t testing.TB) string {
	t.Helper()
	_, s := binaries(t)
	return s
}

// Build runs `go build FLAGS -o DIR/ PACKAGES…` at coffre's module root.
func Build(ctx context.Context, dir string, flags []string, packages ...string) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	args := append(append([]string{"build"}, flags...), "-o", dir+string(os.PathSeparator))
	cmd := exec.CommandContext(ctx, "go", append(args, packages...)...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, out)
	}
	return nil
}

// ModuleRoot is the directory of coffre's go.mod, wherever in the module
// the tests (or the benchmark) run.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside coffre's module (run from its tree)")
	}
	b, err := os.ReadFile(mod)
	if err != nil || !bytes.Contains(b, []byte("module github.com/coffre/coffre\n")) {
		return "", fmt.Errorf("%s is not coffre's go.mod", mod)
	}
	return filepath.Dir(mod), nil
}
