package pgstore

// The tests run against a real PostgreSQL (STYLE.md: no mock where the real
// component can run): TestMain starts a throwaway cluster (pgtest) and
// removes it at the end. Each test gets databases of its own. Without
// PostgreSQL they skip, saying why, unless the run requires it
// (internal/testlane).

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/coffre/coffre/server/store/pgstore/pgtest"
)

var cluster *pgtest.Cluster

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	c, err := pgtest.StartOrSkip("coffre-pgstore-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgstore tests need a PostgreSQL server:", err)
		return 1
	}
	defer c.Stop()
	cluster = c
	return m.Run()
}

func mustOpen(t testing.TB, url string) *Store {
	t.Helper()
	s, err := Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
