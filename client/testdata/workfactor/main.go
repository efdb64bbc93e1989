// Command workfactor prints the scrypt work factor coffre's client writes
// key files with, in a binary built by 'go build' (keyfile_testcost_test.go).
package main

import (
	"fmt"

	_ "github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
)

func main() { fmt.Println(crypto.ScryptWorkFactor) }
