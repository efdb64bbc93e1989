//go:build race

package robustness

// raceEnabled makes the sweep sample as with -short: the race detector
// slows each damage's server and clients about tenfold.
const raceEnabled = true
