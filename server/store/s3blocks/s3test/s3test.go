// Package s3test starts a throwaway S3-compatible server for tests: a real
// MinIO process on a free loopback port, with its data in a temporary
// directory. Without the minio binary Start fails (scripts/minio install
// builds it with go install); StartOrSkip lets the tests skip instead,
// saying why, unless the run requires MinIO (internal/testlane).
package s3test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/coffre/coffre/internal/testlane"
)

// Version is the MinIO the project tests against; scripts/minio installs
// it.
const Version = "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"

const installHint = "install MinIO: scripts/minio install (go install " + Version + ")"

// The credentials of every test server: it listens on loopback only.
const (
	AccessKey = "coffretest"
	SecretKey = "coffretest-secret"
)

// Server is a running MinIO.
type Server struct {
	dir      string
	endpoint string // 127.0.0.1:port
	cmd      *exec.Cmd
	exited   chan struct{}
	exitErr  error
	log      *lockedBuffer
	client   *minio.Client
	buckets  atomic.Int64

	missing error // set on a stand-in for a server that could not start
}

// Binary returns the path of the minio binary: $COFFRE_MINIO, else minio
// in PATH, else in $(go env GOPATH)/bin.
func Binary() (string, error) {
	if p := os.Getenv("COFFRE_MINIO"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("COFFRE_MINIO: %w", err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "minio")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("the minio binary is neither in COFFRE_MINIO, PATH nor GOPATH/bin: " + installHint)
}

// Start starts a server in a new temporary directory whose name begins
// with prefix.
func Start(prefix string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, err
	}
	var last error
	for range 3 { // another process may take the free port first
		s, err := start(bin, dir)
		if err == nil {
			return s, nil
		}
		last = err
	}
	os.RemoveAll(dir)
	return nil, last
}

// StartOrSkip is Start for a test binary's TestMain. When MinIO can't
// start and the run does not require it (testlane.ServicesRequired), it
// returns a stand-in on which Require and Bucket skip the test, saying
// why, so that the package passes on a machine without MinIO. Otherwise
// an error is returned, as by Start. With -short it starts nothing: the
// tests skip (testlane.ErrShort).
func StartOrSkip(prefix string) (*Server, error) {
	if testing.Short() {
		return Unavailable(testlane.ErrShort), nil
	}
	s, err := Start(prefix)
	if err != nil && !testlane.ServicesRequired() {
		return &Server{missing: err}, nil
	}
	return s, err
}

// Unavailable returns a stand-in as StartOrSkip does, for a suite that
// needs MinIO and another service that could not start (err).
func Unavailable(err error) *Server { return &Server{missing: err} }

// Missing is why a stand-in's server could not start; nil for a server
// that runs.
func (s *Server) Missing() error { return s.missing }

// Require skips (or fails, when the run requires MinIO) a test that needs
// the server, if it is a stand-in.
func (s *Server) Require(t testing.TB) {
	t.Helper()
	if s.missing != nil {
		testlane.Unavailable(t, "MinIO", s.missing)
	}
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func start(bin, dir string) (*Server, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	console, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, endpoint: addr, exited: make(chan struct{}), log: &lockedBuffer{}}
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr, "--console-address", console, filepath.Join(dir, "data"))
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+AccessKey, "MINIO_ROOT_PASSWORD="+SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=on")
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting minio: %w", err)
	}
	s.cmd = cmd
	go func() {
		s.exitErr = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(60 * time.Second); err != nil {
		s.kill()
		return nil, err
	}
	client, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(AccessKey, SecretKey, "")})
	if err != nil {
		s.kill()
		return nil, err
	}
	s.client = client
	return s, nil
}

// waitReady waits for MinIO's liveness endpoint to answer 200.
func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	url := "http://" + s.endpoint + "/minio/health/ready"
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("minio exited before it was ready (%v):\n%s", s.exitErr, s.log.String())
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("minio was not ready within %v:\n%s", timeout, s.log.String())
}

func (s *Server) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
	}
}

// Stop stops the server and removes its data.
func (s *Server) Stop() {
	if s.missing != nil {
		return // a stand-in: nothing runs
	}
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			s.kill()
		}
	}
	os.RemoveAll(s.dir)
}

// Endpoint is host:port of the server (plain HTTP).
func (s *Server) Endpoint() string { return s.endpoint }

// Env is the environment a coffre-server needs to reach the server: the
// credentials, as COFFRE_S3_ACCESS_KEY and COFFRE_S3_SECRET_KEY.
func (s *Server) Env() []string {
	return []string{"COFFRE_S3_ACCESS_KEY=" + AccessKey, "COFFRE_S3_SECRET_KEY=" + SecretKey}
}

// Log is what the server printed.
func (s *Server) Log() string { return s.log.String() }

// Client is a client of the server with its root credentials.
func (s *Server) Client() *minio.Client { return s.client }

// NewBucket makes an empty bucket and returns its --blocks URL.
func (s *Server) NewBucket(ctx context.Context) (url, bucket string, err error) {
	if s.missing != nil {
		return "", "", fmt.Errorf("MinIO is not available: %w", s.missing)
	}
	bucket = fmt.Sprintf("coffre-test-%d", s.buckets.Add(1))
	if err := s.client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		return "", "", fmt.Errorf("making bucket %s: %w", bucket, err)
	}
	return s.URL(bucket), bucket, nil
}

// URL is the --blocks URL of a bucket of the server.
func (s *Server) URL(bucket string) string {
	return "s3://" + bucket + "?endpoint=" + s.endpoint + "&tls=false"
}

// Bucket makes an empty bucket for a test and returns its --blocks URL.
func (s *Server) Bucket(t testing.TB) string {
	t.Helper()
	s.Require(t)
	url, _, err := s.NewBucket(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return url
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() < 1<<20 {
		b.buf.Write(p)
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
