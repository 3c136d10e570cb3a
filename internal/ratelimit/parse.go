package ratelimit

import (
	"fmt"
	"strconv"
	"strings"
)

// windows maps the units ParseLimit accepts to their length in seconds.
var windows = map[string]float64{"s": 1, "m": 60, "h": 3600}

// ParseLimit parses a limit written as "COUNT/UNIT" or "COUNT/UNIT burst N",
// where COUNT and N are positive integers and UNIT is s, m or h (second,
// minute, hour): "20/s burst 40", "600/m", "10/s". The rate is COUNT per
// unit; the burst defaults to COUNT, so "600/m" means 10/s with a burst of
// 600.
//
// Because the bucket refills while it is being drained, up to burst plus
// rate times W requests pass in any window of length W: "600/m" lets up to
// 1,200 through in the worst minute. Give a smaller burst ("600/m burst 20")
// to spread requests out.
//
// ParseLimit returns an error naming the problem for anything else, and for
// a limit that Limit.Validate refuses.
func ParseLimit(s string) (Limit, error) {
	fields := strings.Fields(s)
	if len(fields) != 1 && len(fields) != 3 {
		return Limit{}, fmt.Errorf(`ratelimit: limit %q: want "COUNT/UNIT" or "COUNT/UNIT burst N", e.g. "20/s burst 40"`, s)
	}
	countText, unit, ok := strings.Cut(fields[0], "/")
	if !ok {
		return Limit{}, fmt.Errorf(`ratelimit: limit %q: missing "/UNIT" after the count, e.g. "10/s"`, s)
	}
	count, err := positive(countText)
	if err != nil {
		return Limit{}, fmt.Errorf("ratelimit: limit %q: count %w", s, err)
	}
	window, ok := windows[unit]
	if !ok {
		return Limit{}, fmt.Errorf("ratelimit: limit %q: unit %q is not s, m or h", s, unit)
	}
	l := Limit{Rate: float64(count) / window, Burst: count}
	if len(fields) == 3 {
		if !strings.EqualFold(fields[1], "burst") {
			return Limit{}, fmt.Errorf(`ratelimit: limit %q: want "burst" after the rate, got %q`, s, fields[1])
		}
		if l.Burst, err = positive(fields[2]); err != nil {
			return Limit{}, fmt.Errorf("ratelimit: limit %q: burst %w", s, err)
		}
	}
	if err := l.validate(); err != nil {
		return Limit{}, fmt.Errorf("ratelimit: limit %q: %w", s, err)
	}
	return l, nil
}

// positive parses a positive decimal integer.
func positive(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("%q is not a positive whole number", s)
	}
	return n, nil
}
