//go:build race

package multiprocess

// raceEnabled: the tests run with the race detector, and so does
// coffre-server.
const raceEnabled = true
