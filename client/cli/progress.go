package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/coffre/coffre/workspace"
)

// transferPrinter prints a put's or a get's progress: a line per file
// copied, and the bytes of a large file as they go when standard error is
// a terminal. --quiet silences both; skipped files are still said.
type transferPrinter struct {
	out io.Writer
	err io.Writer
	bar *os.File // standard error when it is a terminal

	mu    sync.Mutex // Bytes comes from the transfer's goroutines
	what  string
	total int64
	start time.Time
	last  time.Time
	shown bool // a progress line is on the terminal
}

func newTransferPrinter(con *console) *transferPrinter {
	p := &transferPrinter{out: con.info, err: con.err}
	if f, ok := con.err.(*os.File); ok && !con.quiet && term.IsTerminal(int(f.Fd())) {
		p.bar = f
	}
	return p
}

func (p *transferPrinter) Started(remote string, size int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.what, p.total, p.start, p.last = remote, size, time.Now(), time.Time{}
}

func (p *transferPrinter) Bytes(done int64) {
	if p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last, p.shown = time.Now(), true
	fmt.Fprintf(p.bar, "\r%s: %s ", p.what, progressLine(done, p.total, time.Since(p.start)))
}

// progressLine is "12.0 MiB/1.00 GiB (1%) 3.4 MiB/s, 4m58s left": binary
// units throughout, and the time left at the mean rate so far, once there
// is a rate to go on.
func progressLine(done, total int64, elapsed time.Duration) string {
	secs := max(elapsed.Seconds(), 1e-3)
	rate := float64(done) / secs
	speed := sizeText(int64(rate)) + "/s"
	if total <= 0 {
		return fmt.Sprintf("%s %s", sizeText(done), speed)
	}
	line := fmt.Sprintf("%s/%s (%.0f%%) %s", sizeText(done), sizeText(total), 100*float64(done)/float64(total), speed)
	if done > 0 && done < total && elapsed >= time.Second {
		left := time.Duration(float64(total-done) / rate * float64(time.Second))
		line += ", " + left.Round(time.Second).String() + " left"
	}
	return line
}

// sizeText prints a number of bytes in binary units (KiB, MiB, GiB), the
// units every size coffre prints uses.
func sizeText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, u := float64(n)/unit, 0
	for v >= unit && u < 3 {
		v /= unit
		u++
	}
	prec := 1
	if v < 10 && u >= 1 {
		prec = 2
	}
	return fmt.Sprintf("%.*f %s", prec, v, []string{"KiB", "MiB", "GiB", "TiB"}[u])
}

// clear erases the progress line, if any.
func (p *transferPrinter) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.bar, "\r\033[K")
		p.shown = false
	}
}

func (p *transferPrinter) Done(from, to string, v workspace.Version) {
	p.clear()
	fmt.Fprintf(p.out, "%s → %s (v%d, %d bytes)\n", shown(from), shown(to), v.Version, v.Manifest.Size)
}

func (p *transferPrinter) Skipped(local string, reason error) {
	fmt.Fprintf(p.err, "skipping %s: %v\n", shown(local), reason)
}
