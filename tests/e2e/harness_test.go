// Package e2e runs the real coffre and coffre-server binaries against each
// other, the way an operator and the people of an organisation use them,
// through the shared harness (tests/harness): servers on free loopback
// ports, client commands in their own data directories, enrolments with
// two concurrent processes exchanging their codes through standard input.
//
// Device key files use a low scrypt cost (harness.Device.FullCost; the
// harness builds coffre with the coffre_testcost tag), so a command costs
// milliseconds, not a second; TestPutMemoryIsFlat uses the full cost.
package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/coffre/coffre/tests/harness"
	"github.com/coffre/coffre/tests/testbackend"
)

// Paths of the binaries, built before the tests run.
var (
	coffreBin string
	serverBin string
)

func TestMain(m *testing.M) {
	os.Exit(harness.Main(testbackend.RunFunc(func() int {
		var err error
		if coffreBin, serverBin, err = harness.Binaries(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		return m.Run()
	})))
}

// The harness's names, as this suite's tests use them.
type (
	Server       = harness.Server
	Device       = harness.Device
	Organisation = harness.Organisation
	Result       = harness.Result
	Process      = harness.Process
	Exchange     = harness.Exchange
	EnrolResult  = harness.EnrolResult
	User         = harness.User
	Invitation   = harness.Invitation
	Status       = harness.Status
	VaultEntry   = harness.VaultEntry
	Item         = harness.Item
	UserDevice   = harness.UserDevice
	FileVersion  = harness.FileVersion
	VaultMember  = harness.VaultMember
)

const (
	commandTimeout   = harness.CommandTimeout
	enrolmentTimeout = harness.EnrolmentTimeout
	serverTimeout    = harness.ServerTimeout
)

var (
	NewDevice        = harness.NewDevice
	Enrol            = harness.Enrol
	EnrolUser        = harness.EnrolUser
	EnrolDevice      = harness.EnrolDevice
	run              = harness.Run
	cleanEnv         = harness.CleanEnv
	wantOneLineError = harness.WantOneLineError
	decodeJSON       = harness.DecodeJSON
	wantEnrolled     = harness.WantEnrolled
)

// StartServer starts a server on the backend of this run, on a free port
// and a new data directory, and stops it when the test ends.
func StartServer(t testing.TB) *Server {
	t.Helper()
	return harness.New(t).Server(testbackend.New(t))
}

// StartServerOn is StartServer on a backend the test chose.
func StartServerOn(t testing.TB, backend testbackend.Deployment) *Server {
	t.Helper()
	return harness.New(t).Server(backend)
}

// StartOrganisation starts a server, creates the organisation name on it,
// and bootstraps it from a new device of adminName <adminEmail>.
func StartOrganisation(t testing.TB, name, adminName, adminEmail string) *Organisation {
	t.Helper()
	return harness.New(t).Organisation(name, adminName, adminEmail)
}

// ---------------------------------------------------------------------------
// Links and files

// withQuery returns link with query parameter key set to value.
func withQuery(t testing.TB, link, key, value string) string {
	t.Helper()
	i := strings.Index(link, "?")
	if i < 0 {
		t.Fatalf("link without a query: %s", link)
	}
	params := strings.Split(link[i+1:], "&")
	found := false
	for j, p := range params {
		if k, _, _ := strings.Cut(p, "="); k == key {
			params[j] = key + "=" + value
			found = true
		}
	}
	if !found {
		t.Fatalf("link without %s=: %s", key, link)
	}
	return link[:i+1] + strings.Join(params, "&")
}

// queryValue returns the value of key in link's query.
func queryValue(t testing.TB, link, key string) string {
	t.Helper()
	_, q, _ := strings.Cut(link, "?")
	for p := range strings.SplitSeq(q, "&") {
		if k, v, _ := strings.Cut(p, "="); k == key {
			return v
		}
	}
	t.Fatalf("link without %s=: %s", key, link)
	return ""
}

// randomToken is a well-formed token no server issued.
func randomToken(t testing.TB) string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// findUser returns the user with email in users.
func findUser(t testing.TB, users []User, email string) User {
	t.Helper()
	for _, u := range users {
		if u.Email == email {
			return u
		}
	}
	t.Fatalf("no user %s in %+v", email, users)
	return User{}
}

// boltContents is every key and value of a bbolt file, nested buckets
// included, keyed by their path: what the file holds, whatever bbolt's own
// bookkeeping pages say.
func boltContents(t testing.TB, path string) map[string]string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("opening %s with bbolt: %v", path, err)
	}
	defer db.Close()
	out := map[string]string{}
	var walk func(prefix string, b *bolt.Bucket) error
	walk = func(prefix string, b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				out[prefix+string(k)+"/"] = ""
				return walk(prefix+string(k)+"/", b.Bucket(k))
			}
			out[prefix+string(k)] = string(v)
			return nil
		})
	}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			out[string(name)+"/"] = ""
			return walk(string(name)+"/", b)
		})
	})
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return out
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	if err := os.WriteFile(to, readFile(t, from), 0o600); err != nil {
		t.Fatal(err)
	}
}
