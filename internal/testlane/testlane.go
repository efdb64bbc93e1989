// Package testlane decides what a test does when a service it needs,
// PostgreSQL or MinIO, can't start on this machine.
//
// On a machine with only Go and gcc, 'go test ./...' passes: such a test
// skips, saying in one line what is missing and how to install it. When
// the run asks for the services, a missing one fails the test instead, so
// that no suite is skipped silently: a run asks for them when CI is set (CI
// systems set it; .ci/run runs there) or when COFFRE_TEST_BACKEND is set,
// to either backend (scripts/test sets it). The short lane ('go test
// -short', scripts/test -short) starts neither: its tests skip (ErrShort).
package testlane

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// BackendEnv chooses the backend of the cross-component suites
// (tests/testbackend); set, it also asks for the services.
const BackendEnv = "COFFRE_TEST_BACKEND"

// ErrShort is why a service is not started in the short lane.
var ErrShort = errors.New("not started with -short: scripts/test runs these tests")

// ServicesRequired reports whether a service that can't start fails the
// run rather than skipping its tests.
func ServicesRequired() bool {
	if os.Getenv(BackendEnv) != "" {
		return true
	}
	switch strings.ToLower(os.Getenv("CI")) {
	case "", "0", "false", "no":
		return false
	}
	return true
}

// SkipReason is the one line a test skips with when service could not
// start because of err.
func SkipReason(service string, err error) string {
	first, _, _ := strings.Cut(err.Error(), "\n")
	return fmt.Sprintf("%s is not available: %s (set CI=true or %s=embedded to fail instead)", service, first, BackendEnv)
}

// Unavailable ends test t, which needs service, which could not start:
// it fails when the run requires the services, and skips otherwise, or in
// the short lane (ErrShort).
func Unavailable(t testing.TB, service string, err error) {
	t.Helper()
	if errors.Is(err, ErrShort) {
		t.Skipf("%s: %v", service, err)
	}
	if ServicesRequired() {
		t.Fatalf("%s is required (CI or %s is set) and can't start: %v", service, BackendEnv, err)
	}
	t.Skip(SkipReason(service, err))
}
