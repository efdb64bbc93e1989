package hostile

import (
	"log/slog"
	"testing"

	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/tests/testbackend"
)

// What every Server keeps its data in is chosen by testbackend.Env
// (COFFRE_TEST_BACKEND):
//
//	unset or embedded   a boltstore file and a blockdir block directory in
//	                    the server's data directory (bolt.go)
//	postgres+s3         a database of the test binary's throwaway
//	                    PostgreSQL cluster (pgstore, with its Bus, Relay and
//	                    Nonces, as coffre-server run --postgres wires them)
//	                    and a bucket of its MinIO (s3blocks) (pgs3.go)
//
// Any other value fails: Main refuses to run the tests, Start fails the
// test.
const BackendEnv = testbackend.Env

// The backends.
const (
	Embedded   = testbackend.Embedded
	PostgresS3 = testbackend.PostgresS3
)

// Backend is the backend of this run (Embedded or PostgresS3), or an
// error for a value of BackendEnv that names none.
func Backend() (string, error) { return testbackend.Backend() }

// RequireEmbedded skips the test unless it runs on the embedded backend,
// saying why: for a test of the bolt file or the block directory
// themselves (BlockPath, BlocksDir, Dir's coffre.db), which other backends
// don't have.
func RequireEmbedded(t testing.TB, why string) {
	t.Helper()
	testbackend.RequireEmbedded(t, why)
}

// Main runs the tests of a package that starts Servers and returns the
// exit code for os.Exit:
//
//	func TestMain(m *testing.M) {
//		hostile.FastKeys()
//		os.Exit(hostile.Main(m))
//	}
//
// It is testbackend.Main: it refuses an unknown BackendEnv before any
// test runs, and stops the PostgreSQL cluster and MinIO that servers
// started for postgres+s3.
func Main(m testbackend.Runner) int { return testbackend.Main(m) }

// backing is where one Server keeps its data, and the hostile powers over
// it that depend on how it is kept. The edits (replaceLog, restore,
// restoreBlocks) run while the server is stopped; the block calls run at
// any time, as whoever holds the server's disk or bucket can.
type backing interface {
	// open opens the store and block store for a start or restart, with
	// the Bus and Relay the backend's deployments use (nil: in-memory).
	// The in-memory state a restart loses is lost here too.
	open(logger *slog.Logger) (opened, error)
	// replaceLog replaces a log (vaultID "": the organisation's) with
	// entries, hashes as given, and keeps the store's bookkeeping (its
	// head) consistent with them.
	replaceLog(orgID, vaultID string, entries []store.LogEntry) error
	// restore replaces the whole store with a snapshot (Store.Backup).
	restore(snapshot []byte) error
	// restoreBlocks replaces every stored block with blocks (allBlocks'
	// keys).
	restoreBlocks(blocks map[string][]byte) error

	readBlock(orgID, vaultID, blockID string) ([]byte, error)
	// writeBlock replaces or creates a block; the running server serves
	// the new bytes at once.
	writeBlock(orgID, vaultID, blockID string, data []byte) error
	// removeBlock fails if there is no such block.
	removeBlock(orgID, vaultID, blockID string) error
	// allBlocks is everything stored where the blocks are, by a path or
	// key relative to that place.
	allBlocks() (map[string][]byte, error)
	// vaultBlocks is a vault's blocks by block id.
	vaultBlocks(orgID, vaultID string) (map[string][]byte, error)
	// storeContents is every byte the metadata store holds, in pieces
	// named for where they are (a file of the data directory other than
	// the blocks, or a row of a table), raw: bytes as stored, not encoded.
	storeContents() (map[string][]byte, error)
}

// opened is what a (re)start runs on.
type opened struct {
	store  store.Store
	blocks store.BlockStore
	bus    store.Bus
	relay  store.Relay
	nonces store.Nonces
}

func (o opened) close() {
	o.blocks.Close()
	o.store.Close()
}

// newBacking makes the backing of a new Server of test t, in its data
// directory dir for the embedded backend (with its small blocks in the
// bolt file if small is set); for postgres+s3, a new database
// and bucket, dropped when the test ends (after the server stops: the
// caller registers its own cleanup afterwards).
func newBacking(t testing.TB, dir string, small bool) (backing, error) {
	b, err := Backend()
	if err != nil {
		return nil, err
	}
	if b == Embedded {
		return &boltBacking{dir: dir, small: small}, nil
	}
	cluster, minio, err := testbackend.Services()
	if err != nil {
		return nil, err
	}
	return newPGS3(t, cluster, minio)
}
