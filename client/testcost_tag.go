//go:build coffre_testcost

package client

// testCostBuild: this binary was built for the test suites that run the
// real coffre binary (tests/harness builds it with -tags coffre_testcost),
// so it reads TestWorkFactorEnv like a test binary does. Never a release
// build: see keyfile_testcost.go.
const testCostBuild = true
