package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coffre/coffre/server"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/server/store/boltstore"
	"github.com/coffre/coffre/server/store/pgstore"
)

// withOperator runs fn with the running server's Operator, through its
// operator socket, when one answers there, and otherwise with one on the
// store directly: the PostgreSQL database named in COFFRE_SERVER_POSTGRES,
// which other servers may be using too, or else the embedded store (the
// server is not running, so nothing else holds it).
func withOperator(ctx context.Context, dataDir string, fn func(server.Operator) error) error {
	// A server that is starting holds the store before its socket answers:
	// wait a little for the socket rather than fail on the lock.
	for attempt := 0; ; attempt++ {
		err := tryOperator(ctx, dataDir, fn)
		if !errors.Is(err, boltstore.ErrLocked) || attempt >= 20 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func tryOperator(ctx context.Context, dataDir string, fn func(server.Operator) error) error {
	if op, ok := runningOperator(ctx, dataDir); ok {
		defer op.Close()
		return fn(op)
	}
	var st store.Store
	if url := os.Getenv(postgresEnv); url != "" {
		pg, err := pgstore.Open(ctx, url)
		if err != nil {
			return err
		}
		st = pg
	} else {
		if _, err := os.Stat(storePath(dataDir)); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no coffre store in %s: start 'coffre-server run --data %s' once first, or set %s to reach a PostgreSQL store", dataDir, dataDir, postgresEnv)
		}
		bolt, err := boltstore.Open(storePath(dataDir), boltstore.Options{})
		if err != nil {
			return err
		}
		st = bolt
	}
	defer st.Close()
	return fn(&server.StoreOperator{Store: st, LinkParams: func() (string, string, error) { return offlineLinkParams(dataDir) }})
}

// runningOperator returns the Operator of the server running on dataDir,
// if one answers on its operator socket.
func runningOperator(ctx context.Context, dataDir string) (*server.OperatorClient, bool) {
	sock, err := filepath.Abs(operatorPath(dataDir))
	if err != nil {
		return nil, false
	}
	if _, err := os.Stat(sock); err != nil {
		return nil, false
	}
	op, err := server.DialOperator(ctx, sock)
	return op, err == nil
}

// offlineLinkParams returns the address and TLS pin a stopped server would
// put in links.
func offlineLinkParams(dataDir string) (address, pin string, err error) {
	b, err := os.ReadFile(addressPath(dataDir))
	if err != nil {
		return "", "", fmt.Errorf("reading the server address: %w (run the server once first)", err)
	}
	_, pin, _, err = server.LoadOrCreateTLS(dataDir, "", "")
	return strings.TrimSpace(string(b)), pin, err
}
