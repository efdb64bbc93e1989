package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/coffre/coffre/server/store"
)

// RecordConnection stores c and returns the device's connection just
// before it. Concurrent calls share one transaction (db.Batch): a
// connection is recorded on every login, and one synced transaction each
// would cap near 3,500 a second (BENCH.md).
func (s *Store) RecordConnection(ctx context.Context, orgID string, c store.Connection) (store.Connection, error) {
	if c.DeviceID == "" || strings.IndexByte(c.DeviceID, 0) >= 0 || c.Time.Before(time.Unix(0, 1)) {
		return store.Connection{}, errors.New("recording connection: empty device id, NUL in device id or time before 1970")
	}
	if err := ctx.Err(); err != nil {
		return store.Connection{}, err
	}
	ns := uint64(c.Time.UnixNano())
	key := deviceKey(c.DeviceID, ns)
	var prev store.Connection
	// Batch may run this more than once: it must set prev, not add to it.
	err := s.db.Batch(func(tx *bolt.Tx) error {
		conns, err := orgSub(tx, orgID, bucketConn)
		if err != nil {
			return err
		}
		byTime, err := orgSub(tx, orgID, bucketConnT)
		if err != nil {
			return err
		}
		// An identical key (same device, same nanosecond) counts as the
		// previous connection, and is replaced.
		k, v := lastAtOrBefore(conns.Cursor(), key)
		prev, _ = deviceConnection(c.DeviceID, k, v)
		if err := conns.Put(key, []byte(c.Address)); err != nil {
			return err
		}
		return byTime.Put(append(binary.BigEndian.AppendUint64(nil, ns), c.DeviceID...), []byte(c.Address))
	})
	if err != nil {
		return store.Connection{}, fmt.Errorf("recording connection of %s in %s: %w", c.DeviceID, orgID, err)
	}
	return prev, nil
}

// Connections returns up to limit connections, newest first: of one device
// by walking back from the end of its key range, of all devices by walking
// back from the end of the time-ordered bucket.
func (s *Store) Connections(ctx context.Context, orgID, deviceID string, limit int) ([]store.Connection, error) {
	var conns []store.Connection
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if deviceID == "" {
			byTime, err := orgSub(tx, orgID, bucketConnT)
			if err != nil {
				return err
			}
			c := byTime.Cursor()
			for k, v := c.Last(); k != nil && len(conns) < limit; k, v = c.Prev() {
				if len(k) <= 8 {
					return fmt.Errorf("connection key %x: %w", k, store.ErrCorrupt)
				}
				conns = append(conns, store.Connection{DeviceID: string(k[8:]), Time: fromNanos(int64(binary.BigEndian.Uint64(k))), Address: string(v)})
			}
			return nil
		}
		byDevice, err := orgSub(tx, orgID, bucketConn)
		if err != nil {
			return err
		}
		c := byDevice.Cursor()
		for k, v := lastAtOrBefore(c, deviceKey(deviceID, ^uint64(0))); len(conns) < limit; k, v = c.Prev() {
			conn, ok := deviceConnection(deviceID, k, v)
			if !ok {
				break
			}
			conns = append(conns, conn)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing connections of %q in %s: %w", deviceID, orgID, err)
	}
	return conns, nil
}

// deviceKey is device id, 0x00, big-endian nanoseconds: one device's
// connections are contiguous and in time order.
func deviceKey(deviceID string, ns uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(deviceID+"\x00"), ns)
}

// deviceConnection decodes k, v if k is a connection of deviceID.
func deviceConnection(deviceID string, k, v []byte) (store.Connection, bool) {
	p := len(deviceID) + 1
	if len(k) != p+8 || string(k[:p]) != deviceID+"\x00" {
		return store.Connection{}, false
	}
	return store.Connection{DeviceID: deviceID, Time: fromNanos(int64(binary.BigEndian.Uint64(k[p:]))), Address: string(v)}, true
}

// lastAtOrBefore positions c on the greatest key <= key.
func lastAtOrBefore(c *bolt.Cursor, key []byte) ([]byte, []byte) {
	k, v := c.Seek(key)
	switch {
	case k == nil:
		return c.Last()
	case bytes.Equal(k, key):
		return k, v
	}
	return c.Prev()
}
