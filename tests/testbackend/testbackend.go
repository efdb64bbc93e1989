// Package testbackend chooses what the servers of the cross-component
// suites (tests/e2e, tests/sync, tests/hostile and so tests/adversarial)
// keep their data in, so that one suite runs on every deployment coffre
// supports:
//
//	COFFRE_TEST_BACKEND=embedded      bbolt + a block directory (the default)
//	COFFRE_TEST_BACKEND=postgres+s3   PostgreSQL + a bucket of MinIO
//
// With postgres+s3, a throwaway PostgreSQL cluster and a MinIO (pgtest,
// s3test) start on first use in the test binary, and Main stops them;
// each server gets a database and a bucket of its own. They fail, never
// skip, when the services can't start: setting the variable, to either
// backend, asks for the services (internal/testlane), so the suites that
// need PostgreSQL or MinIO by themselves (pgstore, s3blocks, multiprocess)
// fail without them too. scripts/test runs the suites once per backend.
package testbackend

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	miniogo "github.com/minio/minio-go/v7"

	"github.com/coffre/coffre/internal/testlane"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/server/store/boltstore"
	"github.com/coffre/coffre/server/store/pgstore/pgtest"
	"github.com/coffre/coffre/server/store/s3blocks/s3test"
)

// Env is the variable that chooses the backend.
const Env = testlane.BackendEnv

// The backends.
const (
	Embedded   = "embedded"
	PostgresS3 = "postgres+s3"
)

// Backend is the backend of this run, or an error for a value of Env that
// names none.
func Backend() (string, error) {
	switch v := os.Getenv(Env); v {
	case "", Embedded:
		return Embedded, nil
	case PostgresS3:
		return PostgresS3, nil
	default:
		return "", fmt.Errorf("%s=%q: want %s (the default) or %s", Env, v, Embedded, PostgresS3)
	}
}

// Runner is what Main runs: a *testing.M, or a RunFunc.
type Runner interface{ Run() int }

// RunFunc is a Runner that nests another TestMain helper in Main.
type RunFunc func() int

// Run calls f.
func (f RunFunc) Run() int { return f() }

// mainRunning is set while Main runs: only then may the services start,
// since Main stops them.
var mainRunning atomic.Bool

// Main runs the tests of a package whose servers use the backend and
// returns the exit code for os.Exit:
//
//	func TestMain(m *testing.M) { os.Exit(testbackend.Main(m)) }
//
// It refuses an unknown Env before any test runs, and stops the services
// that were started.
func Main(m Runner) int {
	if !flag.Parsed() {
		flag.Parse() // the services look at -test.v
	}
	b, err := Backend()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if b == Embedded {
		return m.Run()
	}
	mainRunning.Store(true)
	defer mainRunning.Store(false)
	defer stopServices()
	return m.Run()
}

// The services of postgres+s3, started on first use and stopped by Main.
var (
	servicesOnce sync.Once
	servicesMu   sync.Mutex
	cluster      *pgtest.Cluster
	minio        *s3test.Server
	servicesErr  error
)

// Services returns the PostgreSQL cluster and the MinIO of this test
// binary, starting them on first use. Main must be running.
func Services() (*pgtest.Cluster, *s3test.Server, error) {
	b, err := Backend()
	if err != nil {
		return nil, nil, err
	}
	if b != PostgresS3 {
		return nil, nil, fmt.Errorf("testbackend: no services on the %s backend", b)
	}
	if !mainRunning.Load() {
		return nil, nil, fmt.Errorf("%s=%s: the test binary's TestMain must run testbackend.Main (it stops PostgreSQL and MinIO at the end)", Env, b)
	}
	servicesOnce.Do(func() {
		c, err := pgtest.Start("coffre-backend-pg-")
		if err != nil {
			servicesErr = fmt.Errorf("%s=%s needs PostgreSQL: %w", Env, PostgresS3, err)
			return
		}
		m, err := s3test.Start("coffre-backend-s3-")
		if err != nil {
			c.Stop()
			servicesErr = fmt.Errorf("%s=%s needs MinIO: %w", Env, PostgresS3, err)
			return
		}
		servicesMu.Lock()
		cluster, minio = c, m
		servicesMu.Unlock()
		if testing.Verbose() {
			fmt.Fprintf(os.Stderr, "servers of these tests run on PostgreSQL + S3 (MinIO on %s)\n", m.Endpoint())
		}
	})
	servicesMu.Lock()
	defer servicesMu.Unlock()
	return cluster, minio, servicesErr
}

func stopServices() {
	servicesMu.Lock()
	defer servicesMu.Unlock()
	if minio != nil {
		minio.Stop()
		minio = nil
	}
	if cluster != nil {
		cluster.Stop()
		cluster = nil
	}
	if servicesErr == nil {
		servicesErr = errors.New("testbackend: the services are stopped (Main returned)")
	}
}

// Deployment is where one coffre-server process keeps its data: nothing
// to say for the embedded store (its data directory), a database and a
// bucket otherwise.
type Deployment struct {
	// Args go on `coffre-server run`'s command line.
	Args []string
	// Env goes in the environment of every coffre-server command of this
	// server (run, org, backup…): the database URL and the S3 credentials.
	Env []string

	bucket string // postgres+s3: the server's bucket
	minio  *s3test.Server
}

// New returns the deployment of a new server of test t: for postgres+s3 a
// new, empty database and bucket.
func New(t testing.TB) Deployment {
	t.Helper()
	b, err := Backend()
	if err != nil {
		t.Fatal(err)
	}
	if b == Embedded {
		return Deployment{}
	}
	c, m, err := Services()
	if err != nil {
		t.Fatal(err)
	}
	url, bucket, err := m.NewBucket(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return Deployment{
		Args:   []string{"--blocks", url},
		Env:    append([]string{"COFFRE_SERVER_POSTGRES=" + c.NewDatabase(t)}, m.Env()...),
		bucket: bucket,
		minio:  m,
	}
}

// CountBlocks counts the blocks the server stores for a vault as files or
// objects: the files of DATA/blocks/ORG/VAULT, or the objects ORG/VAULT/
// of the bucket, at any time. The embedded store's small blocks of
// batches (those of small files sent in batches, SPEC.md §7.4) are in
// coffre.db, which the running server holds locked: CountSmallBlocks
// counts them once it is stopped.
func (d Deployment) CountBlocks(t testing.TB, dataDir, orgID, vaultID string) int {
	t.Helper()
	n := 0
	if d.bucket == "" {
		filepath.WalkDir(filepath.Join(dataDir, "blocks", orgID, vaultID), func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				n++
			}
			return nil
		})
		return n
	}
	for obj := range d.minio.Client().ListObjects(context.Background(), d.bucket, miniogo.ListObjectsOptions{Prefix: orgID + "/" + vaultID + "/", Recursive: true}) {
		if obj.Err != nil {
			t.Fatalf("listing the blocks of vault %s in bucket %s: %v", vaultID, d.bucket, obj.Err)
		}
		n++
	}
	return n
}

// CountSmallBlocks counts the small blocks of batches the embedded store
// keeps for a vault in DATA/coffre.db, which CountBlocks leaves out; on
// postgres+s3 every block is an object, so none. The server must be
// stopped: it holds the file locked, and the test fails if it still runs.
func (d Deployment) CountSmallBlocks(t testing.TB, dataDir, orgID, vaultID string) int {
	t.Helper()
	if d.bucket != "" {
		return 0
	}
	st, err := boltstore.Open(filepath.Join(dataDir, "coffre.db"), boltstore.Options{})
	if err != nil {
		t.Fatalf("counting the small blocks of vault %s (stop the server first): %v", vaultID, err)
	}
	defer st.Close()
	n := 0
	err = st.ListSmallBlocks(context.Background(), orgID, vaultID, func(store.BlockInfo) error {
		n++
		return nil
	})
	if err != nil {
		t.Fatalf("counting the small blocks of vault %s: %v", vaultID, err)
	}
	return n
}

// RequireEmbedded skips a test on other backends, saying why: for a test
// of the embedded store's own files, or one whose behaviour no store
// changes and that one run covers.
func RequireEmbedded(t testing.TB, why string) {
	t.Helper()
	b, err := Backend()
	if err != nil {
		t.Fatal(err)
	}
	if b != Embedded {
		t.Skipf("embedded store only (%s); this run is on %s=%s", why, Env, b)
	}
}
