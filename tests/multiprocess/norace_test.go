//go:build !race

package multiprocess

const raceEnabled = false
