//go:build !coffre_testcost

package client

// testCostBuild is false in every build but the test suites' (see
// testcost_tag.go).
const testCostBuild = false
