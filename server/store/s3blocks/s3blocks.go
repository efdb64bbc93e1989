// Package s3blocks is a store.BlockStore in a bucket of an S3-compatible
// object store (Amazon S3, MinIO, Ceph RGW, Garage…), for deployments where
// several coffre-server processes share their blocks and the blocks
// outgrow a disk or a database.
//
// A block is one object, KEY = [PREFIX/]ORG/VAULT/BLOCK, written once with a
// conditional put (If-None-Match: *), so that of puts racing on one id
// exactly one lands, as store.BlockStore requires; a put that finds the
// object already there compares the bytes. The objects are ciphertext the
// server cannot read; the bucket needs no encryption of its own for
// confidentiality, and the clients check every block they read (SPEC §11).
//
// The store is named by a URL:
//
//	s3://BUCKET[/PREFIX]?endpoint=HOST[:PORT][&region=REGION][&tls=false][&ca=FILE][&create=true]
//
// Without endpoint it is Amazon S3. tls=false speaks plain HTTP (for a
// server on loopback only); ca names a PEM file of the certificate
// authorities to trust instead of the system's; create=true makes the
// bucket if there is none (for trying coffre: a production bucket is made
// by its operator, with the retention and access rules of the site). Credentials never go in the
// URL (it shows in process listings): they come from COFFRE_S3_ACCESS_KEY
// and COFFRE_S3_SECRET_KEY, or else AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, or else MINIO_ROOT_USER and MINIO_ROOT_PASSWORD.
package s3blocks

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/server/store"
)

// Blocks is a store.BlockStore in one bucket.
type Blocks struct {
	client    *minio.Client
	transport *http.Transport
	bucket    string
	prefix    string // "" or ending in "/"
}

var _ store.BlockStore = (*Blocks)(nil)

// Config is what a URL says, parsed.
type Config struct {
	Bucket   string
	Prefix   string // without leading or trailing slash; may be ""
	Endpoint string // host[:port]
	Region   string
	TLS      bool
	CAFile   string
	Create   bool // make the bucket if it does not exist
}

// IsURL reports whether s names an S3 block store (begins with s3://).
func IsURL(s string) bool { return strings.HasPrefix(s, "s3://") }

// ParseURL parses s3://BUCKET[/PREFIX]?endpoint=…&region=…&tls=…&ca=….
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, fmt.Errorf("block store URL: %w", err)
	}
	if u.Scheme != "s3" {
		return Config{}, fmt.Errorf("block store URL %q: want s3://BUCKET[/PREFIX]?endpoint=HOST:PORT", raw)
	}
	if u.User != nil {
		return Config{}, errors.New("block store URL: credentials do not go in the URL (it shows in process listings); set COFFRE_S3_ACCESS_KEY and COFFRE_S3_SECRET_KEY")
	}
	c := Config{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/"), Endpoint: "s3.amazonaws.com", TLS: true}
	if c.Bucket == "" {
		return Config{}, fmt.Errorf("block store URL %q names no bucket: want s3://BUCKET[/PREFIX]?endpoint=HOST:PORT", raw)
	}
	q := u.Query()
	for key, values := range q {
		if len(values) != 1 {
			return Config{}, fmt.Errorf("block store URL: %s given %d times", key, len(values))
		}
		v := values[0]
		switch key {
		case "endpoint":
			if v == "" || strings.Contains(v, "/") {
				return Config{}, fmt.Errorf("block store URL: endpoint %q: want HOST or HOST:PORT", v)
			}
			c.Endpoint = v
		case "region":
			c.Region = v
		case "tls":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return Config{}, fmt.Errorf("block store URL: tls=%q: want true or false", v)
			}
			c.TLS = b
		case "ca":
			c.CAFile = v
		case "create":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return Config{}, fmt.Errorf("block store URL: create=%q: want true or false", v)
			}
			c.Create = b
		default:
			return Config{}, fmt.Errorf("block store URL: unknown parameter %q (known: endpoint, region, tls, ca, create)", key)
		}
	}
	if c.CAFile != "" && !c.TLS {
		return Config{}, errors.New("block store URL: ca= with tls=false: a CA needs TLS")
	}
	return c, nil
}

// credentialsFromEnv returns the first credentials set in the environment.
func credentialsFromEnv() (*credentials.Credentials, error) {
	for _, pair := range [][2]string{
		{"COFFRE_S3_ACCESS_KEY", "COFFRE_S3_SECRET_KEY"},
		{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"},
		{"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"},
	} {
		id, secret := os.Getenv(pair[0]), os.Getenv(pair[1])
		if id == "" && secret == "" {
			continue
		}
		if id == "" || secret == "" {
			return nil, fmt.Errorf("S3 credentials: %s and %s go together", pair[0], pair[1])
		}
		return credentials.NewStaticV4(id, secret, os.Getenv("AWS_SESSION_TOKEN")), nil
	}
	return nil, errors.New("S3 credentials: set COFFRE_S3_ACCESS_KEY and COFFRE_S3_SECRET_KEY")
}

// Open connects to the bucket a URL names, with credentials from the
// environment, and checks that the bucket exists and the credentials reach
// it.
func Open(ctx context.Context, raw string) (*Blocks, error) {
	c, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	creds, err := credentialsFromEnv()
	if err != nil {
		return nil, err
	}
	return OpenConfig(ctx, c, creds)
}

// OpenConfig is Open with the URL parsed and the credentials given.
func OpenConfig(ctx context.Context, c Config, creds *credentials.Credentials) (*Blocks, error) {
	transport, err := minio.DefaultTransport(c.TLS)
	if err != nil {
		return nil, err
	}
	transport.MaxIdleConnsPerHost = 64 // blocks go up and down in parallel
	if c.TLS {
		transport.TLSClientConfig.MinVersion = tls.VersionTLS12
		if c.CAFile != "" {
			pem, err := os.ReadFile(c.CAFile)
			if err != nil {
				return nil, fmt.Errorf("block store CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("block store CA %s: no PEM certificate in it", c.CAFile)
			}
			transport.TLSClientConfig.RootCAs = pool
		}
	}
	lookup := minio.BucketLookupAuto
	if c.Endpoint != "s3.amazonaws.com" {
		lookup = minio.BucketLookupPath // the form every S3-compatible server knows
	}
	client, err := minio.New(c.Endpoint, &minio.Options{
		Creds: creds, Secure: c.TLS, Region: c.Region, Transport: transport, BucketLookup: lookup,
	})
	if err != nil {
		return nil, fmt.Errorf("block store %s: %w", c.Endpoint, err)
	}
	b := &Blocks{client: client, transport: transport, bucket: c.Bucket}
	if c.Prefix != "" {
		b.prefix = c.Prefix + "/"
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ok, err := client.BucketExists(ctx, c.Bucket)
	if err != nil {
		transport.CloseIdleConnections()
		return nil, fmt.Errorf("block store: reaching bucket %q at %s: %w", c.Bucket, c.Endpoint, err)
	}
	if !ok && c.Create {
		err := client.MakeBucket(ctx, c.Bucket, minio.MakeBucketOptions{Region: c.Region})
		if err != nil && minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
			transport.CloseIdleConnections()
			return nil, fmt.Errorf("block store: making bucket %q at %s: %w", c.Bucket, c.Endpoint, err)
		}
		ok = true
	}
	if !ok {
		transport.CloseIdleConnections()
		return nil, fmt.Errorf("block store: bucket %q does not exist at %s (create it first)", c.Bucket, c.Endpoint)
	}
	if err := b.checkConditionalPut(ctx); err != nil {
		transport.CloseIdleConnections()
		return nil, fmt.Errorf("block store: bucket %q at %s: %w", c.Bucket, c.Endpoint, err)
	}
	return b, nil
}

// checkConditionalPut checks that the object store honours If-None-Match
// on PUT, on which write-once blocks rest: a store that ignored it would
// let a second put replace a block. It puts a probe object twice (its key
// has a "-", which no block key has) and removes it.
func (b *Blocks) checkConditionalPut(ctx context.Context) error {
	key := fmt.Sprintf("%scoffre-write-check/%x", b.prefix, crypto.RandomBytes(16))
	defer b.client.RemoveObject(context.WithoutCancel(ctx), b.bucket, key, minio.RemoveObjectOptions{})
	for i, want := range []int{http.StatusOK, http.StatusPreconditionFailed} {
		opts := minio.PutObjectOptions{DisableMultipart: true}
		opts.SetMatchETagExcept("*")
		_, err := b.client.PutObject(ctx, b.bucket, key, bytes.NewReader([]byte{byte(i)}), 1, opts)
		got := http.StatusOK
		if err != nil {
			got = minio.ToErrorResponse(err).StatusCode
		}
		switch {
		case got == want:
		case want == http.StatusOK:
			return fmt.Errorf("writing a probe object: %w", err)
		default:
			return errors.New("the object store does not honour conditional writes (PUT with If-None-Match: *), " +
				"which keep each block written once: use a store that does (MinIO and Amazon S3 do)")
		}
	}
	return nil
}

// Close releases idle connections.
func (b *Blocks) Close() error {
	b.transport.CloseIdleConnections()
	return nil
}

func (b *Blocks) key(orgID, vaultID, blockID string) string {
	return b.prefix + orgID + "/" + vaultID + "/" + blockID
}

// PutBlock stores a block; S3 acknowledges a put once it is durable.
func (b *Blocks) PutBlock(ctx context.Context, orgID, vaultID, blockID string, data []byte) error {
	if err := b.putBlock(ctx, orgID, vaultID, blockID, data); err != nil {
		return fmt.Errorf("putting block %q of vault %q of %q: %w", blockID, vaultID, orgID, err)
	}
	return nil
}

// conflictRetries bounds the retries of a put that raced another put of
// the same object still in flight (409 ConditionalRequestConflict).
const conflictRetries = 20

func (b *Blocks) putBlock(ctx context.Context, orgID, vaultID, blockID string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(data) > store.MaxBlockSize {
		return fmt.Errorf("%d bytes: %w", len(data), store.ErrBlockTooLarge)
	}
	if err := store.CheckBlockIDs(orgID, vaultID, blockID); err != nil {
		return err
	}
	key := b.key(orgID, vaultID, blockID)
	for attempt := 0; ; attempt++ {
		// Content-MD5: a block damaged on its way to the store is refused
		// there, and the client's upload retried, rather than acknowledged
		// and found bad by a reader later.
		opts := minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true, SendContentMd5: true}
		opts.SetMatchETagExcept("*") // only if there is no such object
		_, err := b.client.PutObject(ctx, b.bucket, key, bytes.NewReader(data), int64(len(data)), opts)
		if err == nil {
			return nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		resp := minio.ToErrorResponse(err)
		switch {
		case resp.StatusCode == http.StatusPreconditionFailed || resp.Code == "PreconditionFailed":
			// There already: the same bytes are success.
			stored, err := b.getBlock(ctx, orgID, vaultID, blockID)
			if err != nil {
				return err
			}
			if !bytes.Equal(stored, data) {
				return store.ErrExists
			}
			return nil
		case (resp.StatusCode == http.StatusConflict || resp.Code == "ConditionalRequestConflict") && attempt < conflictRetries:
			// Another put of this key is in flight: once it lands, ours
			// compares against it.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt+1) * 10 * time.Millisecond):
			}
		default:
			return err
		}
	}
}

// GetBlock returns a block (store.ErrNotFound if there is none).
func (b *Blocks) GetBlock(ctx context.Context, orgID, vaultID, blockID string) ([]byte, error) {
	data, err := b.getBlock(ctx, orgID, vaultID, blockID)
	if err != nil {
		return nil, fmt.Errorf("getting block %q of vault %q of %q: %w", blockID, vaultID, orgID, err)
	}
	return data, nil
}

func (b *Blocks) getBlock(ctx context.Context, orgID, vaultID, blockID string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := store.CheckBlockIDs(orgID, vaultID, blockID); err != nil {
		return nil, err
	}
	obj, err := b.client.GetObject(ctx, b.bucket, b.key(orgID, vaultID, blockID), minio.GetObjectOptions{})
	if err != nil {
		return nil, notFound(err)
	}
	defer obj.Close()
	// No block is larger; a larger object is not one of ours.
	data, err := io.ReadAll(io.LimitReader(obj, store.MaxBlockSize+1))
	if err != nil {
		return nil, notFound(err)
	}
	if len(data) > store.MaxBlockSize {
		return nil, fmt.Errorf("the object is over %d bytes: %w", store.MaxBlockSize, store.ErrBlockTooLarge)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// notFound maps S3's missing-object answer to store.ErrNotFound.
func notFound(err error) error {
	if resp := minio.ToErrorResponse(err); resp.Code == "NoSuchKey" || resp.StatusCode == http.StatusNotFound && resp.Code != "NoSuchBucket" {
		return store.ErrNotFound
	}
	return err
}
