package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"filippo.io/age"
	"golang.org/x/sys/unix"

	"github.com/coffre/coffre/crypto"
)

// chunk is the unit of the baselines' loops: the client's average block.
const chunk = 1 << 20

// stream is n bytes of pseudo-random data (incompressible, cheap to make),
// generated into one reused buffer: nothing big in memory or on disk.
type stream struct {
	rng  *rand.ChaCha8
	buf  []byte
	off  int
	left int64
	// consumed is how much was read so far (sampled by another goroutine).
	consumed atomic.Int64
}

func newStream(seed uint64, n int64) *stream {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return &stream{rng: rand.NewChaCha8(s), buf: make([]byte, chunk), off: chunk, left: n}
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
	s.off += n
	s.left -= int64(n)
	s.consumed.Add(int64(n))
	return n, nil
}

// writeRandomFile writes n random bytes to path and syncs them, so that no
// dirty page of the input is written back during a measurement.
func writeRandomFile(path string, seed uint64, n int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.CopyBuffer(f, newStream(seed, n), make([]byte, chunk)); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// quiesce flushes every dirty page (sync(2)) so that the next measurement
// doesn't pay for the previous one's writes.
func quiesce() { unix.Sync() }

// dropCache asks the kernel to forget the cached pages of the files under
// root (posix_fadvise DONTNEED; dirty pages are flushed first): the next
// read comes from the disk, as after drop_caches, without root.
func dropCache(root string) error {
	quiesce()
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	})
}

// durableWrite copies src to dst and fdatasyncs it: the disk's limit for
// the same bytes. It returns MB/s.
func durableWrite(src, dst string) (float64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	start := time.Now()
	n, err := io.CopyBuffer(out, in, make([]byte, chunk))
	if err != nil {
		return 0, err
	}
	if err := unix.Fdatasync(int(out.Fd())); err != nil {
		return 0, err
	}
	return mbps(n, time.Since(start).Seconds()), nil
}

// coldRead reads path sequentially after dropping it from the cache.
func coldRead(path string) (float64, error) {
	if err := dropCache(path); err != nil {
		return 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	start := time.Now()
	n, err := io.CopyBuffer(io.Discard, f, make([]byte, chunk))
	if err != nil {
		return 0, err
	}
	return mbps(n, time.Since(start).Seconds()), nil
}

// sealAndHash is the client's unavoidable work on the block path, on one
// core: for each 1 MiB of the file, a new key, SHA-256 of the plaintext,
// XChaCha20-Poly1305 seal. The file is read from the page cache, as the
// client reads it.
func sealAndHash(path string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, chunk)
	aad := []byte("bench/block")
	var n int64
	start := time.Now()
	for {
		m, err := io.ReadFull(f, buf)
		if m > 0 {
			k := crypto.NewSecretKey()
			_ = crypto.Sum(buf[:m])
			_ = k.Encrypt(aad, buf[:m])
			n += int64(m)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	return mbps(n, time.Since(start).Seconds()), nil
}

// openAndHash is the client's unavoidable work on a download, on one core:
// open each sealed 1 MiB block and hash the plaintext. Only the opening
// and hashing are timed (the blocks are sealed first, untimed).
func openAndHash(path string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, chunk)
	aad := []byte("bench/block")
	k := crypto.NewSecretKey()
	var n int64
	var spent time.Duration
	for {
		m, err := io.ReadFull(f, buf)
		if m > 0 {
			sealed := k.Encrypt(aad, buf[:m])
			start := time.Now()
			plain, derr := k.Decrypt(aad, sealed)
			_ = crypto.Sum(plain)
			spent += time.Since(start)
			if derr != nil {
				return 0, derr
			}
			n += int64(m)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	return mbps(n, spent.Seconds()), nil
}

// ageEncrypt times `age -r RECIPIENT -o /dev/null FILE` (an X25519
// recipient: what someone would use to send a file).
func (e *env) ageEncrypt(ctx context.Context, path string) (float64, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return 0, err
	}
	info, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, e.age, "-r", id.Recipient().String(), "-o", os.DevNull, path)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("age: %v: %s", err, out)
	}
	return mbps(info.Size(), time.Since(start).Seconds()), nil
}

// rcloneCopy times `rclone copy SRC crypt:` into a new directory on the
// same disk, through a crypt remote configured by environment variables
// only (a temporary, empty config file). It returns how long rclone ran,
// and how long until its writes were on the disk (rclone's local backend
// does not fsync: a sync(2) afterwards).
func (e *env) rcloneCopy(ctx context.Context, src, name string) (ran, durable time.Duration, err error) {
	dst := filepath.Join(e.dir, "rclone-"+name)
	os.RemoveAll(dst)
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dst)
	obscured, err := exec.CommandContext(ctx, e.rclone, "obscure", "benchmark-password").Output()
	if err != nil {
		return 0, 0, fmt.Errorf("rclone obscure: %w", err)
	}
	conf := filepath.Join(e.dir, "rclone.conf")
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		return 0, 0, err
	}
	cmd := exec.CommandContext(ctx, e.rclone, "copy", src, "benchcrypt:")
	cmd.Env = append(os.Environ(),
		"RCLONE_CONFIG="+conf,
		"RCLONE_CONFIG_BENCHCRYPT_TYPE=crypt",
		"RCLONE_CONFIG_BENCHCRYPT_REMOTE="+dst,
		"RCLONE_CONFIG_BENCHCRYPT_PASSWORD="+strings.TrimSpace(string(obscured)),
	)
	quiesce()
	start := time.Now()
	out, err := cmd.CombinedOutput()
	ran = time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("rclone copy: %v: %s", err, out)
	}
	quiesce()
	return ran, time.Since(start), nil
}
