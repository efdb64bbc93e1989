package cli

import (
	"fmt"
	"strconv"
	"strings"
)

// versionFlag is a --version N flag: it takes what 'coffre history'
// prints (v3) as well as the bare number (3).
type versionFlag uint64

func (v *versionFlag) String() string {
	if *v == 0 {
		return ""
	}
	return fmt.Sprintf("v%d", uint64(*v))
}

func (v *versionFlag) Type() string { return "N" }

func (v *versionFlag) Set(s string) error {
	n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(s, "v"), "V"), 10, 64)
	if err != nil || n == 0 {
		return fmt.Errorf("want a version as 'coffre history' lists it, such as v3 or 3")
	}
	*v = versionFlag(n)
	return nil
}
