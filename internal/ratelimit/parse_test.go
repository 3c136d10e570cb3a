package ratelimit_test

import (
	"strings"
	"testing"

	"github.com/conveyorhq/conveyor/internal/ratelimit"
)

func TestParseLimit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ratelimit.Limit
	}{
		{"20/s burst 40", ratelimit.Limit{Rate: 20, Burst: 40}},
		{"600/m", ratelimit.Limit{Rate: 10, Burst: 600}},
		{"10/s", ratelimit.Limit{Rate: 10, Burst: 10}},
		{"3600/h", ratelimit.Limit{Rate: 1, Burst: 3600}},
		{"1/h", ratelimit.Limit{Rate: 1.0 / 3600, Burst: 1}},
		{"600/m burst 20", ratelimit.Limit{Rate: 10, Burst: 20}},
		{"10/s burst 1", ratelimit.Limit{Rate: 10, Burst: 1}},
		{"  5/s   BURST 2 ", ratelimit.Limit{Rate: 5, Burst: 2}},
		{"1000000/s", ratelimit.Limit{Rate: 1e6, Burst: 1e6}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ratelimit.ParseLimit(tc.in)
			if err != nil {
				t.Fatalf("ParseLimit(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("ParseLimit(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		in, wantErr string
	}{
		{"", `want "COUNT/UNIT"`},
		{"10", `missing "/UNIT"`},
		{"10/", `unit "" is not s, m or h`},
		{"10/x", `unit "x" is not s, m or h`},
		{"10/sec", `unit "sec" is not s, m or h`},
		{"10/S", `unit "S" is not s, m or h`},
		{"/s", `count "" is not a positive whole number`},
		{"0/s", `count "0" is not a positive whole number`},
		{"-1/s", `count "-1" is not a positive whole number`},
		{"+1/s", `count "+1" is not a positive whole number`},
		{"1.5/s", `count "1.5" is not a positive whole number`},
		{"abc/s", `count "abc" is not a positive whole number`},
		{"10 / s", `missing "/UNIT"`},
		{"10/s burst", `want "COUNT/UNIT"`},
		{"10/s bust 5", `want "burst" after the rate, got "bust"`},
		{"10/s burst 0", `burst "0" is not a positive whole number`},
		{"10/s burst x", `burst "x" is not a positive whole number`},
		{"10/s burst 5 extra", `want "COUNT/UNIT"`},
		{"10/s,burst 5", `want "COUNT/UNIT"`},
		{"2000000/s", "rate must be at most"},
		{"99999999999999999999/s", "is not a positive whole number"},
	} {
		t.Run("bad "+tc.in, func(t *testing.T) {
			got, err := ratelimit.ParseLimit(tc.in)
			if err == nil {
				t.Fatalf("ParseLimit(%q) = %+v, want an error", tc.in, got)
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "ratelimit: limit ") {
				t.Errorf("ParseLimit(%q) error = %q, want it to contain %q", tc.in, err, tc.wantErr)
			}
		})
	}
}
