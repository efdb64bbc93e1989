package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/server/store/boltstore"
	"github.com/coffre/coffre/server/store/pgstore"
)

// withOperator calls the running server through its operator socket when
// there is one, and otherwise opens the store directly: the PostgreSQL
// database named in COFFRE_SERVER_POSTGRES, which other servers may be
// using too, or else the embedded store (the server is not running, so
// nothing else holds it).
func withOperator(ctx context.Context, dataDir string, running func(coffrev1.OperatorServiceClient) error, offline func(store.Store) error) error {
	// A server that is starting holds the store before its socket answers:
	// wait a little for the socket rather than fail on the lock.
	for attempt := 0; ; attempt++ {
		err := tryOperator(ctx, dataDir, running, offline)
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

func tryOperator(ctx context.Context, dataDir string, running func(coffrev1.OperatorServiceClient) error, offline func(store.Store) error) error {
	sock, err := filepath.Abs(operatorPath(dataDir))
	if err != nil {
		return err
	}
	if _, err := os.Stat(sock); err == nil {
		conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err == nil {
			defer conn.Close()
			client := coffrev1.NewOperatorServiceClient(conn)
			_, probe := client.ListOrganisations(ctx, &coffrev1.ListOrganisationsRequest{})
			if probe == nil {
				return running(client)
			}
		}
	}
	if url := os.Getenv(postgresEnv); url != "" {
		st, err := pgstore.Open(ctx, url)
		if err != nil {
			return err
		}
		defer st.Close()
		return offline(st)
	}
	if _, err := os.Stat(storePath(dataDir)); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no coffre store in %s: start 'coffre-server run --data %s' once first, or set %s to reach a PostgreSQL store", dataDir, dataDir, postgresEnv)
	}
	st, err := boltstore.Open(storePath(dataDir), boltstore.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	return offline(st)
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
