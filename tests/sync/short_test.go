package synctest

import "testing"

// longScenario skips a long scenario in the short lane ('go test -short',
// scripts/test -short): hundreds of MiB, processes killed and restarted,
// randomised runs. scripts/test runs them all.
func longScenario(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("long sync scenario: runs without -short (scripts/test)")
	}
}
