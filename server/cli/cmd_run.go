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

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/coffre/coffre/server"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/server/store/blockdir"
	"github.com/coffre/coffre/server/store/boltstore"
	"github.com/coffre/coffre/server/store/pgstore"
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
}

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
embedded store (the schema is made or brought up to date at start); blocks
stay in the data directory. Leave the password out of the URL: use
PGPASSWORD or ~/.pgpass, or give the whole URL in COFFRE_SERVER_POSTGRES.

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

// openStore opens the metadata store: the PostgreSQL database if one is
// named, the embedded store in the data directory otherwise.
func openStore(ctx context.Context, opts runOptions) (store.Store, error) {
	if opts.postgres != "" {
		st, err := pgstore.Open(ctx, opts.postgres)
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	st, err := boltstore.Open(storePath(opts.dataDir), boltstore.Options{})
	if err != nil {
		return nil, err
	}
	return st, nil
}

func runServer(ctx context.Context, cmd *cobra.Command, opts runOptions) error {
	if (opts.tlsCert == "") != (opts.tlsKey == "") {
		return fmt.Errorf("--tls-cert and --tls-key go together")
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
	st, err := openStore(ctx, opts)
	if err != nil {
		return err
	}
	defer st.Close()
	blocks, err := blockdir.Open(filepath.Join(opts.dataDir, "blocks"))
	if err != nil {
		return err
	}
	defer blocks.Close()
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
	logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
	srv := server.New(server.Config{Store: st, Blocks: blocks, PublicAddress: public, Pin: pin, Logger: logger})

	out := cmd.OutOrStdout()
	if created {
		fmt.Fprintf(out, "made a self-signed TLS certificate in %s\n", opts.dataDir)
	}
	fmt.Fprintf(out, "coffre-server listening on %s (clients use %s)\n", lis.Addr(), public)
	if pin != "" {
		fmt.Fprintf(out, "TLS pin: %s\n", pin)
	}
	fmt.Fprintf(out, "create an organisation: coffre-server org create --data %s NAME\n", opts.dataDir)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, lis, cert) })
	g.Go(func() error { return srv.ServeOperator(gctx, operatorPath(opts.dataDir)) })
	if opts.metrics != "" {
		mlis, err := net.Listen("tcp", opts.metrics)
		if err != nil {
			return fmt.Errorf("metrics listener %s: %w", opts.metrics, err)
		}
		fmt.Fprintf(out, "metrics on http://%s/metrics, health on /healthz\n", mlis.Addr())
		g.Go(func() error { return srv.ServeMetrics(gctx, mlis) })
	}
	err = g.Wait()
	fmt.Fprintln(out, "coffre-server stopped")
	return err
}
