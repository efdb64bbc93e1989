package s3blocks_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/server/store/s3blocks"
	"github.com/coffre/coffre/server/store/s3blocks/s3test"
	"github.com/coffre/coffre/server/store/storetest"
)

// server is the MinIO every test of the package shares, a bucket each.
// Without MinIO the tests skip, saying why, unless the run requires it
// (internal/testlane).
var server *s3test.Server

func TestMain(m *testing.M) {
	flag.Parse() // StartOrSkip looks at -short
	s, err := s3test.StartOrSkip("coffre-s3blocks-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "s3blocks:", err)
		os.Exit(1)
	}
	server = s
	code := m.Run()
	s.Stop()
	os.Exit(code)
}

func creds() *credentials.Credentials {
	return credentials.NewStaticV4(s3test.AccessKey, s3test.SecretKey, "")
}

func open(t *testing.T, url string) *s3blocks.Blocks {
	t.Helper()
	c, err := s3blocks.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s3blocks.OpenConfig(t.Context(), c, creds())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	storetest.RunBlocks(t, func(t *testing.T) store.BlockStore { return open(t, server.Bucket(t)) })
}

// With a prefix, in a bucket shared with other prefixes.
func TestConformancePrefix(t *testing.T) {
	server.Require(t)
	_, bucket, err := server.NewBucket(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	storetest.RunBlocks(t, func(t *testing.T) store.BlockStore {
		n++
		return open(t, fmt.Sprintf("s3://%s/deploy/%d?endpoint=%s&tls=false", bucket, n, server.Endpoint()))
	})
}

func TestKeyLayout(t *testing.T) {
	server.Require(t)
	_, bucket, err := server.NewBucket(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b := open(t, fmt.Sprintf("s3://%s/site1?endpoint=%s&tls=false", bucket, server.Endpoint()))
	defer b.Close()
	// Open's check of conditional writes leaves nothing behind.
	for obj := range server.Client().ListObjects(t.Context(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		t.Errorf("after Open, the bucket holds %q (%v), want nothing", obj.Key, obj.Err)
	}
	if err := b.PutBlock(t.Context(), "orgaaaaa", "vaultaaa", "blockaaa", []byte("ciphertext")); err != nil {
		t.Fatal(err)
	}
	obj, err := server.Client().GetObject(t.Context(), bucket, "site1/orgaaaaa/vaultaaa/blockaaa", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	var got bytes.Buffer
	if _, err := got.ReadFrom(obj); err != nil {
		t.Fatalf("reading the object at site1/orgaaaaa/vaultaaa/blockaaa: %v", err)
	}
	if got.String() != "ciphertext" {
		t.Fatalf("object holds %q, want %q", got.String(), "ciphertext")
	}
}

// An object in the bucket larger than any block (put there by whoever else
// can write the bucket) is refused, not read whole into memory.
func TestOversizedObjectRefused(t *testing.T) {
	server.Require(t)
	url, bucket, err := server.NewBucket(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b := open(t, url)
	defer b.Close()
	big := make([]byte, store.MaxBlockSize+1)
	if _, err := server.Client().PutObject(t.Context(), bucket, "orgaaaaa/vaultaaa/blockaaa", bytes.NewReader(big), int64(len(big)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = b.GetBlock(t.Context(), "orgaaaaa", "vaultaaa", "blockaaa")
	if !errors.Is(err, store.ErrBlockTooLarge) {
		t.Fatalf("GetBlock of an object of MaxBlockSize+1 bytes: error %v, want %v", err, store.ErrBlockTooLarge)
	}
}

func TestOpenErrors(t *testing.T) {
	server.Require(t)
	ctx := t.Context()
	missing := fmt.Sprintf("s3://no-such-bucket?endpoint=%s&tls=false", server.Endpoint())
	c, _ := s3blocks.ParseURL(missing)
	if _, err := s3blocks.OpenConfig(ctx, c, creds()); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Open of a missing bucket: %v, want an error saying it does not exist", err)
	}
	c, _ = s3blocks.ParseURL(server.Bucket(t))
	if _, err := s3blocks.OpenConfig(ctx, c, credentials.NewStaticV4(s3test.AccessKey, "wrong-secret", "")); err == nil {
		t.Error("Open with a wrong secret succeeded")
	}
	created := fmt.Sprintf("s3://made-on-open?endpoint=%s&tls=false&create=true", server.Endpoint())
	c, _ = s3blocks.ParseURL(created)
	for range 2 { // then it exists
		b, err := s3blocks.OpenConfig(ctx, c, creds())
		if err != nil {
			t.Fatalf("Open with create=true: %v", err)
		}
		if err := b.PutBlock(ctx, "orgaaaaa", "vaultaaa", "blockaaa", []byte("x")); err != nil {
			t.Fatalf("PutBlock into the bucket made on open: %v", err)
		}
		b.Close()
	}
	down, cancel := context.WithTimeout(ctx, 0)
	defer cancel()
	if _, err := s3blocks.OpenConfig(down, c, creds()); err == nil {
		t.Error("Open with an expired context succeeded")
	}
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want s3blocks.Config
	}{
		{"s3://bucket", s3blocks.Config{Bucket: "bucket", Endpoint: "s3.amazonaws.com", TLS: true}},
		{"s3://bucket/a/b/?endpoint=minio.example:9000&region=eu-west-3",
			s3blocks.Config{Bucket: "bucket", Prefix: "a/b", Endpoint: "minio.example:9000", Region: "eu-west-3", TLS: true}},
		{"s3://b?endpoint=127.0.0.1:9000&tls=false", s3blocks.Config{Bucket: "b", Endpoint: "127.0.0.1:9000"}},
		{"s3://b?endpoint=h&ca=/etc/ca.pem", s3blocks.Config{Bucket: "b", Endpoint: "h", TLS: true, CAFile: "/etc/ca.pem"}},
		{"s3://b?create=true", s3blocks.Config{Bucket: "b", Endpoint: "s3.amazonaws.com", TLS: true, Create: true}},
	} {
		got, err := s3blocks.ParseURL(tc.url)
		if err != nil || got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tc.url, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"", "bucket", "http://bucket", "s3://", "s3:///prefix", "s3://key:secret@bucket",
		"s3://b?endpoint=", "s3://b?endpoint=h/p", "s3://b?tls=maybe", "s3://b?colour=blue",
		"s3://b?endpoint=a&endpoint=b", "s3://b?tls=false&ca=/x", "s3://b?create=yes",
	} {
		if c, err := s3blocks.ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) = %+v, want an error", bad, c)
		}
	}
	if _, err := s3blocks.ParseURL("s3://key:secret@bucket"); err == nil || strings.Contains(err.Error(), "secret@") {
		t.Errorf("ParseURL with credentials: %v, want an error that does not repeat them", err)
	}
}
