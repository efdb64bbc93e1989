package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffre/coffre/tests/testbackend"
)

// stream is n bytes of pseudo-random data, generated 1 MiB at a time into
// one reused buffer: no big file on disk or in memory on the test's side.
// It hashes what it hands out.
type stream struct {
	rng  *rand.ChaCha8
	buf  []byte
	off  int
	left int64
	sum  hash.Hash
	// consumed is how much the command read so far (read concurrently).
	consumed atomic.Int64
}

func newStream(seed byte, n int64) *stream {
	var s [32]byte
	s[0] = seed
	return &stream{rng: rand.NewChaCha8(s), buf: make([]byte, 1<<20), off: 1 << 20, left: n, sum: sha256.New()}
}

func (s *stream) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	if s.off == len(s.buf) {
		s.rng.Read(s.buf)
		s.off = 0
	}
	n := copy(p, s.buf[s.off:])
	n = int(min(int64(n), s.left))
	s.sum.Write(p[:n])
	s.off += n
	s.left -= int64(n)
	s.consumed.Add(int64(n))
	return n, nil
}

func (s *stream) hex() string { return hex.EncodeToString(s.sum.Sum(nil)) }

// procStatus returns a memory figure of /proc/PID/status (VmRSS: now,
// VmHWM: peak), in bytes, or -1 once the process is gone.
func procStatus(pid, field string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return -1
	}
	for l := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(l, field+":"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb)
			return kb << 10
		}
	}
	return -1
}

// TestPutMemoryIsFlat puts 64 MiB and then 2 GiB from standard input and
// compares the client's peak memory: it must not grow with the size of
// the file (PRODUCT.md: memory stays flat whatever the size).
//
// Two measures: the peak of the whole process (getrusage), which includes
// unlocking the device key (scrypt, 256 MiB) and what the garbage
// collector lets pile up after it (its next goal is twice the heap that
// held the scrypt buffer: about 0.5 GiB for any put of more than ~60 MiB);
// and the largest resident size sampled during the second half of the
// upload, once the process is in its steady state, which is what a file's
// size could make grow.
func TestPutMemoryIsFlat(t *testing.T) {
	testbackend.RequireEmbedded(t, "it measures the client's memory, which the server's store does not change")
	if testing.Short() {
		t.Skip("puts 2 GiB")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc to sample memory")
	}
	const d = "cedres.example"
	// Alice's key file has a person's full scrypt cost: the peak includes
	// unlocking it, as it does for a person.
	srv := StartServer(t)
	_, link := srv.CreateOrg("Clinique " + d)
	alice := NewDevice(t, "alice")
	alice.FullCost = true
	alice.Bootstrap(link, "Alice", "alice@"+d)
	alice.MustRun("vault", "create", "big")

	type measure struct {
		peak, steady int64 // bytes
		elapsed      time.Duration
		sum          string
	}
	put := func(name string, n int64) measure {
		t.Helper()
		in := newStream(byte(n>>20), n)
		p := alice.Start(5*time.Minute, in, "put", "-", "big:/"+name)
		pid := fmt.Sprint(p.Pid())
		var steady, polledPeak atomic.Int64
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			for {
				rss := procStatus(pid, "VmRSS")
				if rss < 0 {
					return
				}
				if hwm := procStatus(pid, "VmHWM"); hwm > polledPeak.Load() {
					polledPeak.Store(hwm)
				}
				if in.consumed.Load() >= n/2 && rss > steady.Load() {
					steady.Store(rss)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		r := p.Wait()
		<-sampled
		if !r.OK() {
			t.Fatalf("put of %d bytes: %s", n, r)
		}
		m := measure{peak: p.MaxRSS(), steady: steady.Load(), elapsed: r.Elapsed, sum: in.hex()}
		t.Logf("put of %d MiB: %v (%.0f MiB/s), peak RSS %d MiB (polled VmHWM %d MiB), steady state %d MiB", n>>20, r.Elapsed.Round(time.Millisecond),
			float64(n>>20)/r.Elapsed.Seconds(), m.peak>>20, polledPeak.Load()>>20, m.steady>>20)
		return m
	}
	const small, large = 64 << 20, 2 << 30
	x := put("small", small)
	y := put("large", large)
	// Go starts a command with vfork: a child's ru_maxrss counts this test
	// process's own peak at that moment. It must stay well below what is
	// measured, or the figures say nothing about the client.
	self := procStatus("self", "VmHWM")
	t.Logf("this test process's peak RSS: %d MiB", self>>20)
	msg := fmt.Sprintf("peak RSS: 64 MiB put = %d MiB, 2 GiB put = %d MiB", x.peak>>20, y.peak>>20)
	steady := fmt.Sprintf("steady-state RSS (second half of the upload): 64 MiB put = %d MiB, 2 GiB put = %d MiB", x.steady>>20, y.steady>>20)
	t.Log(msg)
	t.Log(steady)
	fmt.Println(msg)
	fmt.Println(steady)
	if self >= x.peak/2 {
		t.Errorf("this test process's own peak RSS (%d MiB) bounds the children's ru_maxrss from below: the figures are not the client's", self>>20)
	}
	if y.peak >= x.peak+64<<20 {
		t.Errorf("the client's peak memory grows with the file: %s", msg)
	}
	// About parallel+1 blocks of 1 MiB in flight, each plain, encrypted
	// and marshalled: tens of MiB. Measured: 40 to 80 MiB.
	if y.steady <= 0 || y.steady >= 160<<20 {
		t.Errorf("while putting 2 GiB, the client holds %d MiB (want under 160 MiB): %s", y.steady>>20, steady)
	}

	// Both files are there, whole.
	items := alice.Ls("big:/")
	if items["small"].Size != small || items["large"].Size != large {
		t.Errorf("ls big:/ = %+v, want small of %d bytes and large of %d", items, small, large)
	}
	if h := alice.History("big:/large"); len(h) != 1 || h[0].Size != large {
		t.Errorf("history of the large file: %+v", h)
	}
	// And they come back as they were sent.
	for _, f := range []struct {
		name string
		m    measure
	}{{"small", x}, {"large", y}} {
		dest := filepath.Join(t.TempDir(), f.name)
		p := alice.Start(5*time.Minute, strings.NewReader(""), "get", "big:/"+f.name, dest)
		if r := p.Wait(); !r.OK() {
			t.Fatalf("get: %s", r)
		}
		t.Logf("get of %s: peak RSS %d MiB", f.name, p.MaxRSS()>>20)
		file, err := os.Open(dest)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		_, err = io.Copy(h, file)
		file.Close()
		os.Remove(dest)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != f.m.sum {
			t.Errorf("%s came back different: sha256 %s, sent %s", f.name, got, f.m.sum)
		}
	}
}
