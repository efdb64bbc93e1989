package client

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/coffre/coffre/crypto"
)

// TestWorkFactorEnv lowers the scrypt work factor of the key files a test
// binary writes (SPEC.md §2.6, §9). The command-line tests run coffre
// inside the test binary (cmd/coffre's testscript files), where every
// command that writes a key file would otherwise spend about a second and
// 256 MiB on scrypt; so do the suites that run the real binary, which
// tests/harness builds with the coffre_testcost build tag. A binary built
// by 'go build' (no tag) never reads it: a person's key file can't be
// weakened through the environment.
const TestWorkFactorEnv = "COFFRE_TEST_SCRYPT_WORK_FACTOR"

func init() {
	n, ok, err := testWorkFactor(testing.Testing() || testCostBuild, os.Getenv(TestWorkFactorEnv))
	if err != nil {
		// Only a test binary gets here: a wrong setting must not
		// silently run the tests at full cost.
		panic("coffre: internal error: " + err.Error())
	}
	if ok {
		crypto.ScryptWorkFactor = n
	}
}

// testWorkFactor is the work factor the environment asks for, if this is
// a test binary (or a coffre_testcost build) and it asks for one: only lower than the default, never
// higher.
func testWorkFactor(isTest bool, value string) (n int, ok bool, err error) {
	if !isTest || value == "" {
		return 0, false, nil
	}
	n, err = strconv.Atoi(value)
	if err != nil || n < 1 || n > crypto.ScryptWorkFactor {
		return 0, false, fmt.Errorf("%s=%q: want a work factor from 1 to %d", TestWorkFactorEnv, value, crypto.ScryptWorkFactor)
	}
	return n, true, nil
}
