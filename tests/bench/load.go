package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/server/cli"
	"github.com/coffre/coffre/server/store/pgstore/pgtest"
	"github.com/coffre/coffre/server/store/s3blocks/s3test"
)

// The load cases run the real server command, `coffre-server run`, with
// the flags of each backend (loadBackends, case_concurrent.go), so that
// what is measured is what an operator starts. The command runs in a child
// process of its own (this program, started again with COFFRE_BENCH_SERVER
// and the command's arguments), which answers the driver as serveChild does
// (organisations through `coffre-server org create` on its operator socket,
// CPU profiles), but counts no calls.

// runChild is the server child that runs `coffre-server` with args
// ("run --data DIR --listen 127.0.0.1:0 FLAGS…"). What the command prints
// goes into the server's log; the address and TLS pin it prints are passed
// on in the "ready" line.
func runChild(dir string, args []string) int {
	fail := func(err error) int {
		fmt.Printf("err %v\n", err)
		fmt.Fprintln(os.Stderr, "bench server:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	root := cli.NewRootCommand()
	root.SetArgs(args)
	root.SetOut(pw)
	root.SetErr(os.Stderr)
	served := make(chan error, 1)
	go func() {
		err := root.ExecuteContext(ctx)
		pw.Close()
		served <- err
	}()
	type listening struct{ addr, pin string }
	ready := make(chan listening, 1)
	go func() {
		var l listening
		sent := false
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(os.Stderr, line)
			// coffre-server listening on 127.0.0.1:41235 (clients use 127.0.0.1:41235)
			if rest, ok := strings.CutPrefix(line, "coffre-server listening on "); ok {
				if _, public, ok := strings.Cut(rest, "(clients use "); ok {
					l.addr = strings.TrimSuffix(public, ")")
				}
			}
			if rest, ok := strings.CutPrefix(line, "TLS pin: "); ok {
				l.pin = strings.TrimSpace(rest)
			}
			if !sent && l.addr != "" && l.pin != "" {
				ready <- l
				sent = true
			}
		}
		io.Copy(io.Discard, pr)
	}()
	var l listening
	select {
	case l = <-ready:
	case err := <-served:
		return fail(fmt.Errorf("coffre-server %s stopped before it printed its address and TLS pin: %v", strings.Join(args, " "), err))
	}
	fmt.Printf("ready %s %s\n", l.addr, l.pin)

	return control{
		org: func(name string) (string, error) {
			var out bytes.Buffer
			c := cli.NewRootCommand()
			c.SetArgs([]string{"org", "create", "--data", dir, name})
			c.SetOut(&out)
			c.SetErr(&out)
			if err := c.ExecuteContext(ctx); err != nil {
				return "", fmt.Errorf("coffre-server org create: %v: %s", err, out.String())
			}
			for line := range strings.Lines(out.String()) {
				if line = strings.TrimSpace(line); strings.HasPrefix(line, "coffre://") {
					return line, nil
				}
			}
			return "", fmt.Errorf("coffre-server org create printed no link: %s", out.String())
		},
		stop: func() error {
			cancel()
			return <-served
		},
	}.loop()
}

// pgURL, in a backend's flags, stands for the connection string of a
// throwaway PostgreSQL cluster started for the case (and stopped after it);
// pgxpool's settings may follow it ("$POSTGRES pool_max_conns=16").
const pgURL = "$POSTGRES"

// pgCluster is that cluster.
type pgCluster struct {
	c       *pgtest.Cluster
	url     string
	version string
}

// startPostgres starts a cluster with pgtest (initdb in /tmp, Unix socket
// only, as user postgres when root; it fails without PostgreSQL's
// binaries), then makes it durable: pgtest turns fsync,
// synchronous_commit and full_page_writes off for the tests' speed, but
// the embedded store the load is compared with syncs every write.
func (e *env) startPostgres(ctx context.Context) (*pgCluster, error) {
	start := time.Now()
	c, err := pgtest.Start("coffre-bench-pg-")
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL cluster: %w", err)
	}
	p := &pgCluster{c: c, url: c.URL("postgres")}
	if err := p.makeDurable(ctx); err != nil {
		c.Stop()
		return nil, fmt.Errorf("PostgreSQL cluster: %w", err)
	}
	e.logf("   PostgreSQL %s cluster up in %v (durable: fsync, synchronous_commit, full_page_writes on)", p.version, time.Since(start).Round(time.Millisecond))
	return p, nil
}

func (p *pgCluster) makeDurable(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, p.url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	settings := []string{"fsync", "synchronous_commit", "full_page_writes"}
	for _, s := range settings {
		// ALTER SYSTEM: postgresql.auto.conf overrides pgtest's lines.
		if _, err := conn.Exec(ctx, "ALTER SYSTEM SET "+s+" = on"); err != nil {
			return err
		}
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return err
	}
	// The reload is asynchronous: wait until this session sees it.
	for deadline := time.Now().Add(10 * time.Second); ; {
		off := ""
		for _, s := range settings {
			var v string
			if err := conn.QueryRow(ctx, "SELECT current_setting($1)", s).Scan(&v); err != nil {
				return err
			}
			if v != "on" {
				off = s + " = " + v
			}
		}
		if off == "" {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("PostgreSQL did not take the durable settings: still " + off)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&p.version); err != nil {
		return err
	}
	p.version, _, _ = strings.Cut(p.version, " ") // "15.18 (Debian 15.18-0+deb12u1)"
	return nil
}

func (p *pgCluster) stop() { p.c.Stop() }

// s3URL, in a backend's flags, stands for the --blocks URL of a bucket on a
// throwaway MinIO started for the case (and stopped after it).
const s3URL = "$S3"

// startMinio starts a MinIO with s3test (the pinned binary; it fails
// without it: scripts/minio install).
func (e *env) startMinio(ctx context.Context) (*s3test.Server, error) {
	start := time.Now()
	m, err := s3test.Start("coffre-bench-s3-")
	if err != nil {
		return nil, fmt.Errorf("MinIO: %w", err)
	}
	e.logf("   MinIO up in %v on %s", time.Since(start).Round(time.Millisecond), m.Endpoint())
	return m, nil
}
