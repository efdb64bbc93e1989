//go:build windows || plan9 || solaris || aix || android

package client

import "time"

// stateKeptOpen: without flock to say who waits for state.db, it is
// opened for each transaction, as before stateFile kept it open.
const stateKeptOpen = false

type stateWait struct{}

func openStateWait(string) (*stateWait, error) { return &stateWait{}, nil }
func (*stateWait) start()                      {}
func (*stateWait) stop()                       {}
func (*stateWait) othersWaiting() bool         { return false }
func (*stateWait) othersIn(time.Duration)      {}
func (*stateWait) close() error                { return nil }
