package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"time"

	"github.com/coffre/coffre/crypto"
)

// caseMemory: the real `coffre put - VAULT:/path` in its own process,
// fed a generated stream on standard input (no file on disk): its peak
// resident size (VmHWM), and its resident size sampled during the second
// half of the upload.
//
// Two devices: one whose key file has the suite's cheap scrypt cost, so
// that the figure is the upload's own (a large and a small file compared:
// flat means the size does not matter); and one whose key file has the
// default cost (work factor 18: 256 MiB while the command unlocks it), as
// a person's device has, putting the small file.
func caseMemory(ctx context.Context, e *env) ([]Row, error) {
	bin, err := e.coffreBinary(ctx)
	if err != nil {
		return nil, err
	}
	srv, err := e.startServer(ctx, "memory")
	if err != nil {
		return nil, err
	}
	defer func() { srv.Stop(); os.RemoveAll(srv.Dir) }()
	org, err := e.newOrg(ctx, srv, "memory")
	if err != nil {
		return nil, err
	}
	defer org.close()
	info, err := org.admin.CreateVault(ctx, "memory")
	if err != nil {
		return nil, err
	}
	saved := crypto.ScryptWorkFactor
	crypto.ScryptWorkFactor = 18 // this device's key file as a person's
	person, err := org.addUsers(ctx, 1, true)
	crypto.ScryptWorkFactor = saved
	if err != nil {
		return nil, err
	}
	if err := org.share(ctx, info.ID, person); err != nil {
		return nil, err
	}
	org.closeAdmin()

	type measure struct {
		peak, steady int64
		d            time.Duration
	}
	put := func(home, name string, n int64) (measure, error) {
		var m measure
		in := newStream(3, n)
		c, cancel := context.WithTimeout(ctx, 30*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(c, bin, "--home", home, "put", "-", "memory:/"+name)
		cmd.Env = append(os.Environ(), "COFFRE_PASSPHRASE="+string(passphrase))
		cmd.Stdin = in
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return m, err
		}
		// The peak is VmHWM, the high-water mark of the process's own
		// memory, sampled until it exits (getrusage's ru_maxrss is no good
		// here: Go starts children with vfork, and Linux counts the
		// parent's resident size in the child's high-water mark at exec).
		var steady, peak atomic.Int64
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			for {
				rss, hwm := procStatus(cmd.Process.Pid, "VmRSS:"), procStatus(cmd.Process.Pid, "VmHWM:")
				if rss < 0 || hwm < 0 {
					return
				}
				peak.Store(max(peak.Load(), hwm))
				if in.consumed.Load() >= n/2 && rss > steady.Load() {
					steady.Store(rss)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
		err := cmd.Wait()
		m.d = time.Since(start)
		<-sampled
		if err != nil {
			return m, fmt.Errorf("coffre put of %s: %v: %s", fmtBytes(n), err, out.String())
		}
		m.peak, m.steady = peak.Load(), steady.Load()
		return m, nil
	}
	small, err := put(org.dir, "small", e.sz.memSmallBytes)
	if err != nil {
		return nil, err
	}
	e.logf("   small put: peak %s, steady %s", fmtMB(small.peak), fmtMB(small.steady))
	big, err := put(org.dir, "big", e.sz.memBytes)
	if err != nil {
		return nil, err
	}
	e.logf("   big put: peak %s, steady %s, %v", fmtMB(big.peak), fmtMB(big.steady), big.d.Round(time.Second))
	costly, err := put(person[0].Dir, "small-person", e.sz.memSmallBytes)
	if err != nil {
		return nil, err
	}
	e.logf("   small put, default scrypt cost: peak %s, steady %s", fmtMB(costly.peak), fmtMB(costly.steady))
	const limit = 150e6
	title := fmt.Sprintf("client memory while putting a %s file (`coffre put -`, from stdin)", fmtBytes(e.sz.memBytes))
	return []Row{
		{Title: title,
			Figure: fmt.Sprintf("peak RSS %s; %s during the second half (%s in %.0f s, %s)", fmtMB(big.peak), fmtMB(big.steady),
				fmtBytes(e.sz.memBytes), big.d.Seconds(), fmtMBps(mbps(e.sz.memBytes, big.d.Seconds()))),
			Baseline: fmt.Sprintf("the same command putting %s: peak %s", fmtBytes(e.sz.memSmallBytes), fmtMB(small.peak)),
			Ratio:    fmtRatio(float64(big.peak) / float64(small.peak)), Goal: "flat (≤ 1.25×), < 150 MB",
			Met:  metIf(float64(big.peak) <= 1.25*float64(small.peak) && big.peak < limit),
			Note: "Peak resident size (VmHWM) over the whole command; this device's key file has the suite's cheap scrypt cost (work factor 10), so the figure is the upload's own."},
		{Title: fmt.Sprintf("client memory of `coffre put -` (%s) on a device whose key file has the default scrypt cost", fmtBytes(e.sz.memSmallBytes)),
			Figure:   fmt.Sprintf("%s during the second half of the upload; peak RSS %s, while scrypt unlocked the key file", fmtMB(costly.steady), fmtMB(costly.peak)),
			Baseline: fmt.Sprintf("the same put with a cheap key file: %s during the second half, peak %s", fmtMB(small.steady), fmtMB(small.peak)),
			Ratio:    fmtRatio(float64(costly.steady) / float64(small.steady)), Goal: "< 150 MB during the upload", Met: metIf(costly.steady > 0 && costly.steady < limit),
			Note: "A person's device: the key file is unlocked with scrypt at work factor 18 before the upload starts; scrypt needs 256 MiB while it runs by design (what makes a guessed passphrase expensive, BENCH.md's age row), and the client gives it back to the system before the transfer (client/keyfile.go), so the peak is the unlock's and the upload's own figure is the one the goal counts."},
	}, nil
}
