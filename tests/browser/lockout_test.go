package browser

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/client/app"
)

// movableClock is the app's unlock rate-limit clock, moved by the script
// through a loopback endpoint of the test (POST /advance?by=60s): ten
// wrong passphrases with the real growing delay would take four minutes.
type movableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *movableClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *movableClock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d, err := time.ParseDuration(r.URL.Query().Get("by"))
	if r.Method != http.MethodPost || err != nil {
		http.Error(w, "POST /advance?by=DURATION", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Ten wrong passphrases: the lock screen says until when unlocking is
// refused, on the refused try and after a reload; once the lock-out is
// over the right passphrase unlocks. The app runs in the test's process
// (on a real device of a real server) so that its clock can be moved.
func TestLockOut(t *testing.T) {
	needBrowser(t)
	org := organisation(t)
	t.Setenv(client.TestWorkFactorEnv, "10")
	clock := &movableClock{t: time.Now()}
	a := app.New(org.Admin.Home, 0)
	a.Now = clock.now
	if err := a.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("the app's Serve: %v", err)
		}
	})

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.StripPrefix("/advance", clock)}
	go srv.Serve(lis)
	t.Cleanup(func() { srv.Close() })

	runScript(t, "lockout", map[string]any{
		"admin": map[string]any{"url": a.LoginURL(), "passphrase": org.Admin.Passphrase},
		"clock": "http://" + lis.Addr().String() + "/advance",
	})
}
