package certificate

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffre/coffre/crypto"
)

// Entry is a log entry: its position and its bytes.
type Entry struct {
	Position uint64
	Data     []byte
}

// prechecked is what ApplyAll works out for an entry before the fold.
type prechecked struct {
	parsed bool // c and err are Parse's result
	c      *Certificate
	err    error
	// key verified the signature; it counts only if it is the key the
	// author has at the entry's position when the fold gets there.
	key      crypto.VerifyKey
	verified bool
	// hash is the entry's chain hash if it extends c.PreviousHash; the
	// fold uses it once it has checked that this is the verified head.
	hash []byte
}

func (p prechecked) verifiedWith(key crypto.VerifyKey) bool {
	return p.verified && p.key.Equal(key)
}

// ApplyAll applies entries in order, exactly as Apply one after another
// would, and stops at the first that fails: it returns how many it applied
// (those are folded in) and that entry's error. What is independent of the
// state, parsing each entry and checking its signature, runs first on
// every core: the key of each signature is the one the state before the
// batch, or a device added earlier in the batch, gives its author; the
// fold then checks, in order, that this is the author's key at that
// position, and verifies again with the right key where it is not. So a
// batch signed by devices it adds itself costs no more than one by one,
// and a hostile one no more than one page of parsing.
func (o *Organisation) ApplyAll(entries []Entry) (int, error) {
	pre := make([]prechecked, len(entries))
	Parallel(len(entries), func(i int) {
		pre[i].c, pre[i].err = Parse(entries[i].Data)
		pre[i].parsed = true
		if pre[i].c != nil {
			pre[i].hash = EntryHash(pre[i].c.PreviousHash, entries[i].Data)
		}
	})
	added := map[string]crypto.VerifyKey{}
	for i := range pre {
		c := pre[i].c
		if c == nil {
			continue
		}
		switch k, ok := added[c.Author]; {
		case c.Author == "":
			pre[i].key, pre[i].verified = o.Root, true
		case ok:
			pre[i].key, pre[i].verified = k, true
		default:
			if d, ok := o.devices[c.Author]; ok {
				pre[i].key, pre[i].verified = d.VerifyKey, true
			}
		}
		if s, ok := c.Statement.(DeviceAdded); ok {
			if _, dup := added[s.DeviceID]; !dup {
				added[s.DeviceID] = s.VerifyKey
			}
		}
	}
	Parallel(len(entries), func(i int) {
		if pre[i].verified {
			pre[i].verified = pre[i].c.verify(pre[i].key) == nil
		}
	})
	for i, e := range entries {
		if _, err := o.applyPrechecked(e.Position, e.Data, time.Time{}, pre[i]); err != nil {
			return i, err
		}
	}
	return len(entries), nil
}

// Parallel calls fn(0) … fn(n-1) on every core and returns when all are
// done: the signature checks of a log page here, the seals of a vault key
// to its members in workspace. Fewer than 32 calls run on this goroutine,
// where starting workers would cost more than it saves.
func Parallel(n int, fn func(int)) {
	workers := min(runtime.GOMAXPROCS(0), n/16)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				fn(i)
			}
		}()
	}
	wg.Wait()
}
