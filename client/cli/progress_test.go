package cli

import (
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	for _, c := range []struct {
		done, total int64
		elapsed     time.Duration
		want        string
	}{
		{300 << 20, 1 << 30, 10 * time.Second, "300.0 MiB/1.00 GiB (29%) 30.0 MiB/s, 24s left"},
		{5 << 20, 0, 2 * time.Second, "5.00 MiB 2.50 MiB/s"},
		// No time left before there is a rate to go on, nor once done.
		{1 << 20, 10 << 20, 500 * time.Millisecond, "1.00 MiB/10.0 MiB (10%) 2.00 MiB/s"},
		{10 << 20, 10 << 20, 4 * time.Second, "10.0 MiB/10.0 MiB (100%) 2.50 MiB/s"},
	} {
		if got := progressLine(c.done, c.total, c.elapsed); got != c.want {
			t.Errorf("progressLine(%d, %d, %v) = %q, want %q", c.done, c.total, c.elapsed, got, c.want)
		}
	}
}

func TestSizeText(t *testing.T) {
	for n, want := range map[int64]string{
		11: "11 B", 2048: "2.0 KiB", 1536 << 10: "1.50 MiB", 1 << 30: "1.00 GiB", 25 << 30: "25.0 GiB",
	} {
		if got := sizeText(n); got != want {
			t.Errorf("sizeText(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"2GiB": 2 << 30, "512 MiB": 512 << 20, "1.5GiB": 3 << 29, "4096": 4096, "0": 0, "100B": 100} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"lots", "-1GiB", "2GB", ""} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}
