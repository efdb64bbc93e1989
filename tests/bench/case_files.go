package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/coffre/coffre/client"
)

// files is the state put leaves for get.
type files struct {
	srv     *serverProc
	org     *benchOrg
	vaultID string
	src     string // the file put
	plain   string // the same bytes written durably (the disk's baseline)
	size    int64
	rows    []Row
}

func (f *files) cleanup() {
	if f.org != nil {
		f.org.close()
	}
	if f.srv != nil {
		f.srv.Stop()
		os.RemoveAll(f.srv.Dir)
	}
	os.Remove(f.src)
	os.Remove(f.plain)
}

// putPhase runs put (once): the baselines on the same bytes, then the put.
func (e *env) putPhase(ctx context.Context) (*files, error) {
	if e.filesState != nil {
		return e.filesState, nil
	}
	f := &files{size: e.sz.putBytes}
	e.filesState = f
	e.cleanups = append(e.cleanups, f.cleanup)
	var err error
	if f.srv, err = e.startServer(ctx, "files"); err != nil {
		return nil, err
	}
	if f.org, err = e.newOrg(ctx, f.srv, "files"); err != nil {
		return nil, err
	}
	info, err := f.org.admin.CreateVault(ctx, "files")
	if err != nil {
		return nil, err
	}
	f.vaultID = info.ID

	in := filepath.Join(e.dir, "put-input")
	if err := os.MkdirAll(in, 0o700); err != nil {
		return nil, err
	}
	f.src = filepath.Join(in, "big.bin")
	f.plain = filepath.Join(e.dir, "plain.bin")
	e.logf("   writing %s of random bytes", fmtBytes(f.size))
	if err := writeRandomFile(f.src, 1, f.size); err != nil {
		return nil, err
	}

	// Baselines, each after the disk is quiet.
	quiesce()
	disk, err := durableWrite(f.src, f.plain)
	if err != nil {
		return nil, err
	}
	quiesce()
	core, err := sealAndHash(f.src)
	if err != nil {
		return nil, err
	}
	ageRate, ageErr := 0.0, error(nil)
	if e.age != "" {
		ageRate, ageErr = e.ageEncrypt(ctx, f.src)
	}
	var rcRan, rcDurable time.Duration
	var rcErr error
	if e.rclone != "" {
		rcRan, rcDurable, rcErr = e.rcloneCopy(ctx, in, "put")
	}
	quiesce()

	// The put: the client library, as `coffre put` runs it.
	w, _, err := f.org.admin.PrepareVault(ctx, f.vaultID)
	if err != nil {
		return nil, err
	}
	file, err := os.Open(f.src)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	d, err := e.measure("put", f.srv, func() error {
		_, err := w.Put(ctx, "/big.bin", file, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("put: %w", err)
	}
	quiesce()
	rate := mbps(f.size, d.Seconds())
	fig := fmt.Sprintf("%s (%s in %.1f s)", fmtMBps(rate), fmtBytes(f.size), d.Seconds())
	title := fmt.Sprintf("put one %s file", fmtBytes(f.size))
	f.rows = append(f.rows, Row{Title: title, Figure: fig,
		Baseline: "disk: the same bytes written + fdatasync, " + fmtMBps(disk), Ratio: fmtRatio(rate / disk),
		Goal: "≥ 0.8× the disk", Met: metIf(rate >= 0.8*disk),
		Note: "The client library does not keep the blocks it uploads in its local block cache (since issue 15; before, the put included re-encrypting and writing each block there)."})
	switch {
	case e.rclone == "":
		f.rows = append(f.rows, Row{Title: title, Figure: fig, Baseline: "rclone: " + e.rcWhy, Ratio: "—", Goal: "≥ 1.5× rclone crypt", Met: "n/a"})
	case rcErr != nil:
		return nil, rcErr
	default:
		rc := mbps(f.size, rcRan.Seconds())
		f.rows = append(f.rows, Row{Title: title, Figure: fig,
			Baseline: "rclone copy to a crypt remote on local disk, " + fmtMBps(rc), Ratio: fmtRatio(rate / rc),
			Goal: "≥ 1.5× rclone crypt", Met: metIf(rate >= 1.5*rc),
			Note: fmt.Sprintf("rclone's local backend does not fsync: its writes reach the disk only later; counting until a sync(2) afterwards returns, rclone does %s.", fmtMBps(mbps(f.size, rcDurable.Seconds())))})
	}
	f.rows = append(f.rows, Row{Title: title, Figure: fig,
		Baseline: "one core: new key + SHA-256 + XChaCha20-Poly1305 seal per MiB, " + fmtMBps(core), Ratio: fmtRatio(rate / core), Goal: "≥ 0.7× one core", Met: metIf(rate >= 0.7*core)})
	switch {
	case e.age == "":
		f.rows = append(f.rows, Row{Title: title, Figure: fig, Baseline: "age: " + e.ageWhy, Ratio: "—", Goal: "—", Met: "n/a"})
	case ageErr != nil:
		return nil, ageErr
	default:
		f.rows = append(f.rows, Row{Title: title, Figure: fig,
			Baseline: "age -r (X25519) encrypting the file to /dev/null, " + fmtMBps(ageRate), Ratio: fmtRatio(rate / ageRate), Goal: "—", Met: "—"})
	}
	return f, nil
}

func casePut(ctx context.Context, e *env) ([]Row, error) {
	f, err := e.putPhase(ctx)
	if err != nil {
		return nil, err
	}
	return f.rows, nil
}

func caseGet(ctx context.Context, e *env) ([]Row, error) {
	f, err := e.putPhase(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { f.cleanup(); e.filesState = nil }()

	// Cold: a new session, no local block cache, the server's files
	// dropped from the page cache.
	f.org.closeAdmin()
	if err := os.RemoveAll(filepath.Join(f.org.dir, "cache")); err != nil {
		return nil, err
	}
	if err := dropCache(f.srv.Dir); err != nil {
		return nil, err
	}
	s, err := client.Open(ctx, f.org.dir, passphrase)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	w, _, err := s.PrepareVault(ctx, f.vaultID)
	if err != nil {
		return nil, err
	}
	dest := filepath.Join(e.dir, "got.bin")
	defer os.Remove(dest)
	d, err := e.measure("get", f.srv, func() error {
		_, err := w.Get(ctx, "/big.bin", time.Time{}, dest, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	if a, b := fileSum(f.src), fileSum(dest); a == "" || a != b {
		return nil, fmt.Errorf("get: the file came back different (sha256 %s, put %s)", b, a)
	}
	rate := mbps(f.size, d.Seconds())

	cold, err := coldRead(f.plain)
	if err != nil {
		return nil, err
	}
	core, err := openAndHash(f.src)
	if err != nil {
		return nil, err
	}
	lower := min(cold, core)
	return []Row{{
		Title:    fmt.Sprintf("get the %s file back, server cache cold", fmtBytes(f.size)),
		Figure:   fmt.Sprintf("%s (%.1f s)", fmtMBps(rate), d.Seconds()),
		Baseline: fmt.Sprintf("cold sequential read of a plain file %s; one core open + SHA-256 %s", fmtMBps(cold), fmtMBps(core)),
		Ratio:    fmtRatio(rate/lower) + " the lower",
		Goal:     "≥ 0.6× the lower", Met: metIf(rate >= 0.6*lower),
		Note: "Cold: a new session with its local block cache removed, and the server's files dropped from the page cache (posix_fadvise DONTNEED). " +
			"The get includes writing the file and syncing it; a file larger than a quarter of the block cache's limit (1 GiB by default) is not kept in it (since issue 15; before, each block was written into it).",
	}}, nil
}

func fileSum(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}
