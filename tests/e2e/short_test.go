package e2e

import "testing"

// longScenario skips a long scenario in the short lane ('go test -short',
// scripts/test -short): they start servers and many processes, and the
// command line's golden scripts
// (cmd/coffre/testdata) cover its help and errors in seconds. scripts/test
// runs them all.
func longScenario(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("long end-to-end scenario: runs without -short (scripts/test)")
	}
}
