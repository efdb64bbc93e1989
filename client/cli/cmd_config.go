package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client"
)

func newConfigCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show or change this device's settings (block cache size)",
		Long: `Settings of this data directory (--home), kept in its settings.json, which
holds no name and no secret:

  cache-size  how much disk the encrypted block cache may use (default 1GiB):
              blocks read or written recently are kept there so that reading a
              file again costs no download. A size such as 512MiB, 2GiB or a
              number of bytes; 0 keeps nothing. 'coffre status' shows it.`,
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "set KEY VALUE",
			Short: "Change a setting: coffre config set cache-size 2GiB",
			Args:  cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				return runConfigSet(g, args[0], args[1], newConsole(cmd))
			},
		},
		&cobra.Command{
			Use:   "get KEY",
			Short: "Print a setting: coffre config get cache-size",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return runConfigGet(g, args[0], newConsole(cmd))
			},
		},
	)
	return cmd
}

const cacheSizeKey = "cache-size"

func unknownSetting(key string) error {
	return fmt.Errorf("%w: no setting %q (there is: %s)", client.ErrBadSetting, key, cacheSizeKey)
}

func runConfigSet(g *globalOptions, key, value string, con *console) error {
	if key != cacheSizeKey {
		return unknownSetting(key)
	}
	n, err := parseSize(value)
	if err != nil {
		return err
	}
	if err := client.SetBlockCacheBytes(g.home, n); err != nil {
		return err
	}
	fmt.Fprintf(con.info, "block cache size set to %s (for the commands and syncs started from now on)\n", sizeText(n))
	return nil
}

func runConfigGet(g *globalOptions, key string, con *console) error {
	if key != cacheSizeKey {
		return unknownSetting(key)
	}
	n, _, err := client.BlockCacheBytes(g.home)
	if err != nil {
		return err
	}
	fmt.Fprintln(con.out, sizeText(n))
	return nil
}

// parseSize reads a size in bytes or in binary units: 512MiB, 2GiB, 1.5 GiB.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for i, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		if num, ok := strings.CutSuffix(t, u); ok {
			t, mult = strings.TrimSpace(num), int64(1)<<(10*(i+1))
			break
		}
	}
	if mult == 1 {
		t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), " ")
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("%w: bad size %q: want a number of bytes or 512MiB, 2GiB, 1TiB", client.ErrBadSetting, s)
	}
	return int64(v * float64(mult)), nil
}
