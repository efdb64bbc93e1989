package hostile

import (
	"context"
	"testing"
	"time"

	"github.com/coffre/coffre/server"
)

// CollectBlocks runs one block garbage collection (SPEC.md §7.5) on the
// running server's store and block store, as its periodic collection or
// `coffre-server gc` would, with the server's default grace period, at
// the server's clock moved by later (the blocks look that much older;
// the server's own clock, which authenticates requests, does not move).
func (s *Server) CollectBlocks(t testing.TB, later time.Duration, dryRun bool) server.Collection {
	t.Helper()
	s.mu.Lock()
	run := s.run
	s.mu.Unlock()
	c := &server.Collector{Store: run.store, Blocks: run.blocks, Grace: server.DefaultGCGrace,
		Now: func() time.Time { return s.Clock.Now().Add(later) }}
	col, err := c.Collect(context.Background(), dryRun)
	if err != nil {
		t.Fatalf("hostile: collecting blocks: %v", err)
	}
	return col
}
