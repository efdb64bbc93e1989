package cli

import (
	"runtime/debug"
	"testing"
)

// A put's memory limit is what the command holds when the upload starts
// plus uploadMemory: above the 36 MiB alone (a large vault's state is not
// squeezed), far below the command's general 128 MiB; GOMEMLIMIT wins.
func TestLimitUploadMemory(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	held := make([]byte, 64<<20) // a large vault's state, say
	t.Setenv("GOMEMLIMIT", "")
	debug.SetMemoryLimit(128 << 20)
	limitUploadMemory()
	got := debug.SetMemoryLimit(-1)
	if got < int64(len(held))+uploadMemory || got > int64(len(held))+uploadMemory+32<<20 {
		t.Errorf("limit %d MiB while holding %d MiB, want that plus %d MiB", got>>20, len(held)>>20, uploadMemory>>20)
	}
	held[len(held)-1] = 1

	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetMemoryLimit(1 << 30)
	limitUploadMemory()
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Errorf("GOMEMLIMIT set: limit %d MiB, want it left at 1024", got>>20)
	}
}
