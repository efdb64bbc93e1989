// Package testbackend chooses what the servers of the cross-component
// suites (tests/e2e, tests/sync) keep their data in, so that one suite runs
// on every deployment coffre supports:
//
//	COFFRE_TEST_BACKEND=embedded      bbolt + a block directory (the default)
//	COFFRE_TEST_BACKEND=postgres+s3   PostgreSQL + a bucket of MinIO
//
// With postgres+s3, Main starts a throwaway PostgreSQL cluster and a MinIO
// for the test binary (pgtest, s3test) and each server gets a database and
// a bucket of its own. They fail, never skip, when the services can't
// start. scripts/test runs the suites once per backend.
package testbackend

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	miniogo "github.com/minio/minio-go/v7"

	"github.com/coffre/coffre/server/store/pgstore/pgtest"
	"github.com/coffre/coffre/server/store/s3blocks/s3test"
)

// Env is the variable that chooses the backend.
const Env = "COFFRE_TEST_BACKEND"

// The backends.
const (
	Embedded   = "embedded"
	PostgresS3 = "postgres+s3"
)

var (
	name    string
	cluster *pgtest.Cluster
	minio   *s3test.Server
)

// Name is the backend of this run.
func Name() string { return name }

// Main starts what the backend needs, runs the tests and stops it; a
// TestMain returns its result to os.Exit.
func Main(m *testing.M) int {
	if !flag.Parsed() {
		flag.Parse() // the services look at -test.v
	}
	switch name = os.Getenv(Env); name {
	case "", Embedded:
		name = Embedded
		return m.Run()
	case PostgresS3:
	default:
		fmt.Fprintf(os.Stderr, "%s=%q: want %s or %s\n", Env, name, Embedded, PostgresS3)
		return 2
	}
	c, err := pgtest.Start("coffre-backend-pg-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s=%s needs PostgreSQL: %v\n", Env, name, err)
		return 1
	}
	defer c.Stop()
	s, err := s3test.Start("coffre-backend-s3-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s=%s needs MinIO: %v\n", Env, name, err)
		return 1
	}
	defer s.Stop()
	cluster, minio = c, s
	fmt.Fprintf(os.Stderr, "servers of these tests run on PostgreSQL + S3 (MinIO on %s)\n", s.Endpoint())
	return m.Run()
}

// Deployment is where one server keeps its data: nothing to say for the
// embedded store (its data directory), a database and a bucket otherwise.
type Deployment struct {
	// Args go on `coffre-server run`'s command line.
	Args []string
	// Env goes in the environment of every coffre-server command of this
	// server (run, org, backup…): the database URL and the S3 credentials.
	Env []string

	bucket string // postgres+s3: the server's bucket
}

// New returns the deployment of a new server of test t: for postgres+s3 a
// new, empty database and bucket.
func New(t testing.TB) Deployment {
	t.Helper()
	switch name {
	case Embedded:
		return Deployment{}
	case PostgresS3:
		url, bucket, err := minio.NewBucket(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return Deployment{
			Args:   []string{"--blocks", url},
			Env:    append([]string{"COFFRE_SERVER_POSTGRES=" + cluster.NewDatabase(t)}, minio.Env()...),
			bucket: bucket,
		}
	}
	t.Fatalf("testbackend: Main did not run (call testbackend.Main from TestMain)")
	return Deployment{}
}

// CountBlocks counts the blocks the server stores for a vault: the files
// of DATA/blocks/ORG/VAULT, or the objects ORG/VAULT/ of the bucket.
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
	for obj := range minio.Client().ListObjects(context.Background(), d.bucket, miniogo.ListObjectsOptions{Prefix: orgID + "/" + vaultID + "/", Recursive: true}) {
		if obj.Err != nil {
			t.Fatalf("listing the blocks of vault %s in bucket %s: %v", vaultID, d.bucket, obj.Err)
		}
		n++
	}
	return n
}

// RequireEmbedded skips a test on other backends, saying why: for a test
// of the embedded store's own files, or one whose behaviour no store
// changes and that one run covers.
func RequireEmbedded(t testing.TB, why string) {
	t.Helper()
	if name != Embedded {
		t.Skipf("embedded store only (%s), and this run is on %s", why, name)
	}
}

// Describe is a line for logs: the backend, and where a deployment's
// data is.
func (d Deployment) Describe() string {
	if len(d.Args) == 0 {
		return Embedded
	}
	return name + " (" + strings.Join(d.Args, " ") + ")"
}
