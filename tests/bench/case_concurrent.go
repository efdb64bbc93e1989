package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/server/store/pgstore"
	"github.com/coffre/coffre/server/store/s3blocks/s3test"
	"github.com/coffre/coffre/workspace"
)

// loadBackend is one way of running the server under the concurrent
// clients' load: the flags of `coffre-server run` besides --data and
// --listen.
type loadBackend struct {
	name  string   // the case is "concurrent-NAME" ("concurrent" for the first)
	label string   // what keeps the metadata and the blocks, for the table
	flags []string // pgURL in them stands for a throwaway PostgreSQL cluster's connection string
}

// loadBackends has one case each, in this order. The first, the embedded
// store, is BENCH.md's case "concurrent" and the baseline of the others,
// measured once in the same run. Another store is one more line.
var loadBackends = []loadBackend{
	{"embedded", "the embedded store (bbolt + block directory)", nil},
	{"postgres", "PostgreSQL (metadata and blocks)", []string{"--postgres", pgURL, "--blocks", "postgres"}},
	{"postgres-s3", "PostgreSQL (metadata) + MinIO (blocks)", []string{"--postgres", pgURL, "--blocks", s3URL}},
}

// concurrentCases are the cases of loadBackends.
func concurrentCases() []benchCase {
	cases := make([]benchCase, len(loadBackends))
	for i, b := range loadBackends {
		name := "concurrent"
		if i > 0 {
			name += "-" + b.name
		}
		cases[i] = benchCase{name, "concurrent clients writing small files, server on " + b.label,
			func(ctx context.Context, e *env) ([]Row, error) { return caseConcurrent(ctx, e, name, i) }}
	}
	return cases
}

// caseConcurrent: N members, each with their own device (a session and a
// connection of its own) and their own vault, write new 4 KiB files as
// fast as they can for a while; every write is a Put (upload the block,
// commit the folder, verify). The server is a fresh `coffre-server run`
// process on loadBackends[i]: its peak resident size is its own. Any other
// backend than the first is compared with the first, whose load runs once
// per run of the suite (here if its own case was not selected).
func caseConcurrent(ctx context.Context, e *env, name string, i int) ([]Row, error) {
	if e.loadBase == nil && e.loadBaseErr == nil {
		e.loadBase, e.loadBaseErr = e.runLoad(ctx, "concurrent", loadBackends[0])
	}
	if i == 0 {
		if e.loadBaseErr != nil {
			return nil, e.loadBaseErr
		}
		return []Row{e.loadBase.row(nil, nil)}, nil
	}
	r, err := e.runLoad(ctx, name, loadBackends[i])
	if err != nil {
		return nil, err
	}
	return []Row{r.row(e.loadBase, e.loadBaseErr)}, nil
}

// loadResult is what one load measured.
type loadResult struct {
	backend   loadBackend
	command   string // the server's command line, the database's URL left out
	backendAt string // about the database, if any
	clients   int
	loadFor   time.Duration // how long the clients write
	seconds   float64
	writes    int
	errs      int
	firstErr  error
	ops       float64
	p50, p99  float64       // ms
	rssBefore int64         // the server's, bytes
	rssPeak   residentSplit // during the load, each part's own peak
	rssMax    int64         // over its life (VmHWM)
}

// runLoad starts a server on b, makes the organisation, the devices and
// their vaults, runs the load and stops everything it started.
func (e *env) runLoad(ctx context.Context, name string, b loadBackend) (*loadResult, error) {
	res := &loadResult{backend: b, clients: e.sz.clients, loadFor: e.sz.loadFor}
	flags := slices.Clone(b.flags)
	if slices.ContainsFunc(flags, func(f string) bool { return strings.Contains(f, pgURL) }) {
		pg, err := e.startPostgres(ctx)
		if err != nil {
			return nil, err
		}
		defer pg.stop()
		for k, f := range flags {
			flags[k] = strings.ReplaceAll(f, pgURL, pg.url)
		}
		res.backendAt = fmt.Sprintf("PostgreSQL %s in a throwaway cluster on the same machine (initdb in /tmp, Unix socket only), "+
			"durable as the embedded store is (fsync, synchronous_commit and full_page_writes on), otherwise initdb's defaults; "+
			"the server's connection pool at pgstore's default size, %d; PostgreSQL's own memory is not in the RSS figures.",
			pg.version, pgstore.DefaultMaxConns)
	}
	if slices.ContainsFunc(flags, func(f string) bool { return strings.Contains(f, s3URL) }) {
		m, err := e.startMinio(ctx)
		if err != nil {
			return nil, err
		}
		defer m.Stop()
		url, _, err := m.NewBucket(ctx)
		if err != nil {
			return nil, err
		}
		for k, f := range flags {
			flags[k] = strings.ReplaceAll(f, s3URL, url)
		}
		// The server child inherits the credentials.
		for _, kv := range m.Env() {
			k, v, _ := strings.Cut(kv, "=")
			os.Setenv(k, v)
		}
		res.backendAt += " MinIO (" + s3test.Version + ") on loopback, its data in /tmp, plain HTTP; its memory is not in the RSS figures either."
	}
	res.command = "coffre-server run --data DIR --listen 127.0.0.1:0"
	if len(b.flags) > 0 {
		res.command += " " + strings.NewReplacer(pgURL, "URL", s3URL, "s3://BUCKET?endpoint=HOST:PORT&tls=false").Replace(strings.Join(b.flags, " "))
	}

	srv, err := e.startCoffreServer(ctx, name, flags)
	if err != nil {
		return nil, err
	}
	defer func() { srv.Stop(); os.RemoveAll(srv.Dir) }()
	org, err := e.newOrg(ctx, srv, name)
	if err != nil {
		return nil, err
	}
	defer org.close()
	n := e.sz.clients
	users, err := org.addUsers(ctx, n, true)
	if err != nil {
		return nil, err
	}
	org.closeAdmin()
	type worker struct {
		s *client.Session
		w *workspace.Vault
	}
	workers := make([]worker, n)
	defer func() {
		for _, wk := range workers {
			if wk.s != nil {
				wk.s.Close()
			}
		}
	}()
	for i, u := range users {
		s, err := client.Open(ctx, u.Dir, passphrase)
		if err != nil {
			return nil, err
		}
		workers[i].s = s
		if err := s.Sync(ctx); err != nil {
			return nil, err
		}
		info, err := s.CreateVault(ctx, fmt.Sprintf("load-%03d", i))
		if err != nil {
			return nil, err
		}
		if workers[i].w, _, err = s.PrepareVault(ctx, info.ID); err != nil {
			return nil, err
		}
	}
	res.rssBefore = srv.RSS()

	var (
		mu      sync.Mutex
		lat     []float64
		peakMu  sync.Mutex
		peakRSS residentSplit
	)
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			m := srv.Memory()
			peakMu.Lock()
			peakRSS = peakRSS.peak(m)
			peakMu.Unlock()
			select {
			case <-stopSampling:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	d, _ := e.measure(name, srv, func() error {
		deadline := time.Now().Add(e.sz.loadFor)
		for i := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := workers[i].w
				var mine []float64
				for k := 0; time.Now().Before(deadline) && ctx.Err() == nil; k++ {
					data := crypto.RandomBytes(4096)
					c, cancel := context.WithTimeout(ctx, 30*time.Second)
					start := time.Now()
					_, err := w.Put(c, fmt.Sprintf("/file-%06d.txt", k), bytes.NewReader(data), nil)
					el := time.Since(start)
					cancel()
					if err != nil {
						mu.Lock()
						res.errs++
						if res.firstErr == nil {
							res.firstErr = err
						}
						mu.Unlock()
						continue
					}
					mine = append(mine, float64(el.Microseconds())/1000)
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		return nil
	})
	close(stopSampling)
	<-sampled
	for _, wk := range workers {
		wk.s.Close()
	}
	workers = nil
	if err := srv.Stop(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load cut short after %.0f s: %w", d.Seconds(), err)
	}
	res.seconds = d.Seconds()
	res.writes = len(lat)
	res.ops = float64(len(lat)) / d.Seconds()
	res.p50, res.p99 = percentile(lat, 50), percentile(lat, 99)
	res.rssPeak, res.rssMax = peakRSS, srv.MaxRSS()
	return res, nil
}

// row is the table's row for r; base (or why it is missing) is the
// first backend's load, for the others.
func (r *loadResult) row(base *loadResult, baseErr error) Row {
	fig := fmt.Sprintf("%.0f ops/s, p50 %.0f ms, p99 %.0f ms, %d errors; server RSS peak %s: anon %s, file %s (%s before the load, VmHWM %s)",
		r.ops, r.p50, r.p99, r.errs, fmtMB(r.rssPeak.rss), fmtMB(r.rssPeak.anon), fmtMB(r.rssPeak.file), fmtMB(r.rssBefore), fmtMB(r.rssMax))
	note := fmt.Sprintf("%d writes in %.0f s. The server is `%s` (its command, in a child process); each client is a device with its own session, connection and vault, in this process; a write is Vault.Put of a new 4 KiB file. "+
		"Server memory sampled every 50 ms from /proc/PID/status during the load, each part at its own peak: RssAnon is its heap and stacks, RssFile its mapped files (the embedded store's bbolt coffre.db, mapped whole and paged in as read, which the kernel may drop; the binary's text); VmHWM is the kernel's high-water mark of their sum over the server's life.",
		r.writes, r.seconds, r.command)
	if r.backendAt != "" {
		note += " " + r.backendAt
	}
	if r.firstErr != nil {
		note += " First error: " + r.firstErr.Error()
	}
	// Issue 15's goals: p99 < 100 ms on the embedded store, < 250 ms with
	// PostgreSQL (with or without S3 for the blocks).
	goalMs := 100.0
	if r.backend.name != "embedded" {
		goalMs = 250
	}
	row := Row{
		Title:  fmt.Sprintf("%d concurrent clients writing small files for %v, server on %s", r.clients, r.loadFor, r.backend.label),
		Figure: fig, Baseline: "—", Ratio: "—", Goal: fmt.Sprintf("no error, p99 < %.0f ms", goalMs),
		Met: metIf(r.errs == 0 && r.writes > 0 && r.p99 < goalMs), Note: note,
	}
	switch {
	case baseErr != nil:
		row.Baseline = "the same load on " + loadBackends[0].label + ": failed (" + baseErr.Error() + ")"
	case base != nil:
		row.Baseline = fmt.Sprintf("the same load on %s: %.0f ops/s, p50 %.0f ms, p99 %.0f ms, %d errors",
			base.backend.label, base.ops, base.p50, base.p99, base.errs)
		if base.ops > 0 && base.p99 > 0 {
			row.Ratio = fmt.Sprintf("%s the ops/s, %s the p99", fmtRatio(r.ops/base.ops), fmtRatio(r.p99/base.p99))
		}
	}
	return row
}
