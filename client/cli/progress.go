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
// a terminal.
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
	p := &transferPrinter{out: con.out, err: con.err}
	if f, ok := con.err.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
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
	rate := float64(done) / 1e6 / max(time.Since(p.start).Seconds(), 1e-3)
	if p.total > 0 {
		fmt.Fprintf(p.bar, "\r%s: %d/%d MB (%.0f%%) %.1f MB/s ", p.what, done>>20, p.total>>20, 100*float64(done)/float64(p.total), rate)
	} else {
		fmt.Fprintf(p.bar, "\r%s: %d MB %.1f MB/s ", p.what, done>>20, rate)
	}
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
