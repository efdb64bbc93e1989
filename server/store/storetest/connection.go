package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/server/store"
)

func (s suite) testConnections(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	mustOrg(t, st, "org")
	if conns, err := st.Connections(ctx, "org", "", 10); err != nil || len(conns) != 0 {
		t.Fatalf("Connections of a new organisation = %v, %v; want none", conns, err)
	}
	// d1 and d10: one device id is a prefix of the other.
	c := func(dev string, sec int, addr string) store.Connection {
		return store.Connection{DeviceID: dev, Time: at(sec), Address: addr}
	}
	steps := []struct {
		conn, prev store.Connection
	}{
		{c("d1", 1, "192.0.2.1:1"), store.Connection{}},
		{c("d10", 2, "192.0.2.10:1"), store.Connection{}},
		{c("d1", 3, "192.0.2.1:2"), c("d1", 1, "192.0.2.1:1")},
		{c("d2", 4, "[2001:db8::2]:1"), store.Connection{}},
		{c("d1", 5, "192.0.2.1:3"), c("d1", 3, "192.0.2.1:2")},
		{c("d10", 6, "192.0.2.10:2"), c("d10", 2, "192.0.2.10:1")},
	}
	for _, step := range steps {
		prev, err := st.RecordConnection(ctx, "org", step.conn)
		if err != nil {
			t.Fatalf("RecordConnection(%s at %s): %v", step.conn.DeviceID, show(step.conn.Time), err)
		}
		if d := s.diffConnection(prev, step.prev); d != "" {
			t.Fatalf("RecordConnection(%s at %s) returned a previous connection whose %s", step.conn.DeviceID, show(step.conn.Time), d)
		}
	}
	all := []store.Connection{steps[5].conn, steps[4].conn, steps[3].conn, steps[2].conn, steps[1].conn, steps[0].conn}
	for _, q := range []struct {
		device string
		limit  int
		want   []store.Connection
	}{
		{"", 10, all},
		{"", 2, all[:2]},
		{"d1", 10, []store.Connection{all[1], all[3], all[5]}},
		{"d1", 2, []store.Connection{all[1], all[3]}},
		{"d10", 10, []store.Connection{all[0], all[4]}},
		{"d2", 10, []store.Connection{all[2]}},
		{"d3", 10, nil},
		{"d", 10, nil},
	} {
		got, err := st.Connections(ctx, "org", q.device, q.limit)
		if err != nil {
			t.Fatalf("Connections(%q, %d): %v", q.device, q.limit, err)
		}
		if d := s.diffConnections(got, q.want); d != "" {
			t.Fatalf("Connections(%q, %d), newest first: %s", q.device, q.limit, d)
		}
	}
}

// testConcurrentConnections records from many devices at once, as logins
// do: each device must still get its own previous connection back.
func (s suite) testConcurrentConnections(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	mustOrg(t, st, "org")
	const devices, each = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, devices)
	for d := range devices {
		wg.Go(func() {
			dev := fmt.Sprintf("device-%d", d)
			var last store.Connection
			for i := range each {
				conn := store.Connection{DeviceID: dev, Time: at(i).Add(time.Duration(d)), Address: fmt.Sprintf("192.0.2.%d:%d", d, i)}
				prev, err := st.RecordConnection(ctx, "org", conn)
				if err != nil {
					errs <- fmt.Errorf("RecordConnection(%s, %d): %w", dev, i, err)
					return
				}
				if diff := s.diffConnection(prev, last); diff != "" {
					errs <- fmt.Errorf("RecordConnection(%s, %d) returned a previous connection whose %s", dev, i, diff)
					return
				}
				last = conn
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all, err := st.Connections(ctx, "org", "", devices*each+10)
	if err != nil || len(all) != devices*each {
		t.Fatalf("Connections after %d devices recorded %d each = %d, %v", devices, each, len(all), err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Time.After(all[i-1].Time) {
			t.Fatalf("Connections not newest first: %s after %s", show(all[i].Time), show(all[i-1].Time))
		}
	}
}
