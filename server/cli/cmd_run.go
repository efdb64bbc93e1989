package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/coffre/coffre/server"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/server/store/blockdir"
	"github.com/coffre/coffre/server/store/boltstore"
	"github.com/coffre/coffre/server/store/pgstore"
	"github.com/coffre/coffre/server/store/s3blocks"
)

// postgresEnv names the variable that --postgres defaults to. The other
// commands read it too, to reach the store when no server runs here.
const postgresEnv = "COFFRE_SERVER_POSTGRES"

type runOptions struct {
	dataDir    string
	listen     string
	publicAddr string
	tlsCert    string
	tlsKey     string
	metrics    string
	postgres   string // connection string; empty for the embedded store
	blocks     string // blocksDir, blocksPostgres or an s3:// URL; empty: the default
	gcGrace    time.Duration
	gcInterval time.Duration
}

// Where blocks are kept (--blocks).
const (
	blocksDir      = "dir"
	blocksPostgres = "postgres"
)

func newRunCommand() *cobra.Command {
	var opts runOptions
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the server on the embedded store",
		Long: `Run the server. The embedded store (bbolt) lives in the data directory, with
a self-signed TLS certificate made on first run unless --tls-cert/--tls-key
name a real one. The TLS pin printed at start is written into organisation
links so that clients trust this certificate and no other.

With --postgres, metadata is kept in that PostgreSQL database instead of the
embedded store (the schema is made or brought up to date at start), and so
are blocks unless --blocks says otherwise. Leave the
password out of the URL: use PGPASSWORD or ~/.pgpass, or give the whole URL
in COFFRE_SERVER_POSTGRES.

Several servers may share one PostgreSQL database, behind one address: Watch
events and enrolment messages pass between them through the database, so a
client may reach any of them. Give each its own data directory, the same
--public-addr, and the same TLS key (--tls-cert/--tls-key, or copy
tls-cert.pem and tls-key.pem from the first one's data directory), so that
links and their pin hold whichever server answers.

Blocks (the encrypted file contents) go where --blocks says:
  dir           DATA/blocks, plain files (the default without --postgres);
                several servers must share it (a symbolic link to one
                shared directory)
  postgres      the --postgres database (the default with it)
  s3://BUCKET[/PREFIX]?endpoint=HOST:PORT[&region=R][&tls=false][&ca=FILE]
                [&create=true]
                a bucket of an S3-compatible object store (MinIO, Ceph,
                Garage, Amazon S3 without endpoint); the bucket must exist.
                Credentials come from COFFRE_S3_ACCESS_KEY and
                COFFRE_S3_SECRET_KEY (or AWS_ACCESS_KEY_ID and
                AWS_SECRET_ACCESS_KEY), never from the URL. tls=false is for
                a store on loopback only; create=true makes the bucket
                if it is missing (for trying coffre).

The server stops cleanly on SIGINT or SIGTERM.`,
		Example: "  coffre-server run --data /var/lib/coffre --listen 0.0.0.0:7443 --public-addr coffre.example.org:7443",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if hasPassword(opts.postgres) {
				return errors.New("--postgres: other users can read the command line: give the password in PGPASSWORD or ~/.pgpass, or the URL in " + postgresEnv)
			}
			if opts.postgres == "" {
				// Not the flag's default, which --help would print.
				opts.postgres = os.Getenv(postgresEnv)
			}
			return runServer(cmd.Context(), cmd, opts)
		},
	}
	dataDirFlag(cmd, &opts.dataDir)
	cmd.Flags().StringVar(&opts.listen, "listen", "127.0.0.1:7443", "address to listen on")
	cmd.Flags().StringVar(&opts.publicAddr, "public-addr", "", "host:port clients use, written into links (default: the listen address)")
	cmd.Flags().StringVar(&opts.tlsCert, "tls-cert", "", "TLS certificate file (PEM); default: a self-signed one in the data directory")
	cmd.Flags().StringVar(&opts.tlsKey, "tls-key", "", "TLS private key file (PEM), with --tls-cert")
	cmd.Flags().StringVar(&opts.metrics, "metrics", "", "serve Prometheus /metrics and /healthz on this address (e.g. 127.0.0.1:9443); off when empty")
	cmd.Flags().StringVar(&opts.postgres, "postgres", "", "PostgreSQL URL for metadata instead of the embedded store, e.g. postgres://coffre@db.example.org/coffre; env "+postgresEnv)
	cmd.Flags().DurationVar(&opts.gcGrace, "gc-grace", server.DefaultGCGrace, "keep a block no committed vault entry references this long before deleting it (at least 1h); see 'coffre-server gc --help'")
	cmd.Flags().DurationVar(&opts.gcInterval, "gc-interval", time.Hour, "run a block collection this often; 0 turns it off")
	cmd.Flags().StringVar(&opts.blocks, "blocks", "", "where blocks are kept: "+blocksDir+", "+blocksPostgres+" or s3://BUCKET?endpoint=HOST:PORT (see above)")
	return cmd
}

// hasPassword says whether a PostgreSQL URL or key=value string holds a
// password.
func hasPassword(conn string) bool {
	if u, err := url.Parse(conn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		_, set := u.User.Password()
		return set || u.Query().Has("password")
	}
	return strings.Contains(conn, "password=")
}

// backend is what the server keeps, and how it reaches the other server
// processes sharing its store (nil Bus and Relay: none can).
type backend struct {
	store  store.Store
	blocks store.BlockStore
	bus    store.Bus
	relay  store.Relay
	nonces store.Nonces
}

// openBackend opens the stores: the PostgreSQL database if one is named,
// with its bus and relay, the embedded store in the data directory
// otherwise; blocks where --blocks says.
func openBackend(ctx context.Context, opts runOptions, logger *slog.Logger) (backend, error) {
	where := opts.blocks
	switch {
	case where == "" && opts.postgres != "":
		where = blocksPostgres
	case where == "":
		where = blocksDir
	case where != blocksDir && where != blocksPostgres && !s3blocks.IsURL(where):
		return backend{}, fmt.Errorf("--blocks %q: want %s, %s or s3://BUCKET?endpoint=HOST:PORT", where, blocksDir, blocksPostgres)
	case where == blocksPostgres && opts.postgres == "":
		return backend{}, fmt.Errorf("--blocks %s needs --postgres (or %s)", blocksPostgres, postgresEnv)
	}
	var b backend
	if s3blocks.IsURL(where) {
		// First: a wrong URL or missing bucket is found before the store
		// is touched.
		blocks, err := s3blocks.Open(ctx, where)
		if err != nil {
			return backend{}, err
		}
		b.blocks = blocks
	}
	if opts.postgres != "" {
		st, err := pgstore.Open(ctx, opts.postgres)
		if err != nil {
			b.closeBlocks()
			return backend{}, err
		}
		b.store, b.bus, b.relay, b.nonces = st, pgstore.NewBus(st, logger), pgstore.NewRelay(st, logger), pgstore.NewNonces(st)
		if where == blocksPostgres {
			b.blocks = pgstore.NewBlocks(st)
		}
	} else {
		st, err := boltstore.Open(storePath(opts.dataDir), boltstore.Options{})
		if err != nil {
			b.closeBlocks()
			return backend{}, err
		}
		b.store = st
	}
	if b.blocks == nil {
		blocks, err := blockdir.Open(filepath.Join(opts.dataDir, "blocks"))
		if err != nil {
			b.store.Close()
			return backend{}, err
		}
		if st, ok := b.store.(*boltstore.Store); ok {
			// The embedded store keeps the small blocks of batches.
			blocks.UseSmallBlocks(st)
		}
		b.blocks = blocks
	}
	return b, nil
}

func (b backend) close() {
	b.blocks.Close()
	b.store.Close()
}

func (b backend) closeBlocks() {
	if b.blocks != nil {
		b.blocks.Close()
	}
}

// minGCGrace is the shortest --gc-grace: a shorter one would collect the
// blocks of uploads still running, whose commit the server would then
// refuse.
const minGCGrace = time.Hour

func runServer(ctx context.Context, cmd *cobra.Command, opts runOptions) error {
	if (opts.tlsCert == "") != (opts.tlsKey == "") {
		return fmt.Errorf("--tls-cert and --tls-key go together")
	}
	if opts.gcGrace < minGCGrace {
		return fmt.Errorf("--gc-grace %s: at least %s, longer than any upload takes before its commit", opts.gcGrace, minGCGrace)
	}
	if opts.gcInterval < 0 {
		return fmt.Errorf("--gc-interval %s: want a positive duration, or 0 for no collection", opts.gcInterval)
	}
	if err := os.MkdirAll(opts.dataDir, 0o700); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	cert, pin, created, err := server.LoadOrCreateTLS(opts.dataDir, opts.tlsCert, opts.tlsKey)
	if err != nil {
		return err
	}
	if opts.tlsCert != "" {
		pin = "" // a CA certificate: clients verify it the usual way
	}
	logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
	b, err := openBackend(ctx, opts, logger)
	if err != nil {
		return err
	}
	defer b.close()
	lis, err := net.Listen("tcp", opts.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", opts.listen, err)
	}
	public := opts.publicAddr
	if public == "" {
		public = lis.Addr().String()
	}
	if err := os.WriteFile(addressPath(opts.dataDir), []byte(public+"\n"), 0o600); err != nil {
		return err
	}
	srv := server.New(server.Config{
		Store: b.store, Blocks: b.blocks, Bus: b.bus, Relay: b.relay, Nonces: b.nonces,
		PublicAddress: public, Pin: pin, Logger: logger,
		GCGrace: opts.gcGrace, GCInterval: opts.gcInterval,
	})

	out := cmd.OutOrStdout()
	if created {
		fmt.Fprintf(out, "made a self-signed TLS certificate in %s\n", opts.dataDir)
	}
	// The operator socket and the metrics listener exist before
	// "listening" is printed: a script that waits for that line can create
	// organisations, or ask /healthz, at once.
	opLis, err := server.ListenOperator(operatorPath(opts.dataDir))
	if err != nil {
		return fmt.Errorf("operator socket: %w", err)
	}
	var mlis net.Listener
	if opts.metrics != "" {
		if mlis, err = net.Listen("tcp", opts.metrics); err != nil {
			opLis.Close()
			return fmt.Errorf("metrics listener %s: %w", opts.metrics, err)
		}
	}
	fmt.Fprintf(out, "coffre-server listening on %s (clients use %s)\n", lis.Addr(), public)
	if pin != "" {
		fmt.Fprintf(out, "TLS pin: %s\n", pin)
	}
	if mlis != nil {
		fmt.Fprintf(out, "metrics on http://%s/metrics, health on /healthz\n", mlis.Addr())
	}
	fmt.Fprintf(out, "create an organisation: coffre-server org create --data %s NAME\n", opts.dataDir)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, lis, cert) })
	g.Go(func() error { return srv.ServeOperator(gctx, opLis) })
	if mlis != nil {
		g.Go(func() error { return srv.ServeMetrics(gctx, mlis) })
	}
	err = g.Wait()
	fmt.Fprintln(out, "coffre-server stopped")
	return err
}
