package processors

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// csvColumn is what is known of one column.
type csvColumn struct {
	name string
	// cand holds the types every value so far fits; the bounds of each
	// candidate are kept until it is ruled out.
	cand     int
	typ      int // the final type, 0 for string
	nonEmpty int64

	intMin, intMax    int64
	numMin, numMax    float64
	hasFalse, hasTrue bool
	dateMin, dateMax  time.Time
	tsMin, tsMax      time.Time
	strMin, strMax    string

	distinct distinctCounter
}

func (c *csvColumn) observe(v string) {
	t := strings.TrimSpace(v)
	if t == "" {
		return
	}
	first := c.nonEmpty == 0
	c.nonEmpty++
	if c.cand&typInteger != 0 {
		if n, ok := parseInteger(t); ok {
			if first || n < c.intMin {
				c.intMin = n
			}
			if first || n > c.intMax {
				c.intMax = n
			}
		} else {
			c.cand &^= typInteger
		}
	}
	if c.cand&typNumber != 0 {
		if f, ok := parseNumber(t); ok {
			if first || f < c.numMin {
				c.numMin = f
			}
			if first || f > c.numMax {
				c.numMax = f
			}
		} else {
			c.cand &^= typNumber
		}
	}
	if c.cand&typBoolean != 0 {
		if b, ok := parseBoolean(t); !ok {
			c.cand &^= typBoolean
		} else if b {
			c.hasTrue = true
		} else {
			c.hasFalse = true
		}
	}
	if c.cand&typDate != 0 {
		if d, ok := parseDate(t); ok {
			if first || d.Before(c.dateMin) {
				c.dateMin = d
			}
			if first || d.After(c.dateMax) {
				c.dateMax = d
			}
		} else {
			c.cand &^= typDate
		}
	}
	if c.cand&typTimestamp != 0 {
		if ts, ok := parseTimestamp(t); ok {
			if first || ts.Before(c.tsMin) {
				c.tsMin = ts
			}
			if first || ts.After(c.tsMax) {
				c.tsMax = ts
			}
		} else {
			c.cand &^= typTimestamp
		}
	}
	// Prefixes keep the order (a ≤ b implies prefix(a) ≤ prefix(b)), so
	// comparing them gives the prefix of the true minimum and maximum.
	s := v
	if len(s) > maxStatString {
		s = s[:maxStatString]
	}
	if first || s < c.strMin {
		c.strMin = strings.Clone(s)
	}
	if first || s > c.strMax {
		c.strMax = strings.Clone(s)
	}
}

// finalType is the narrowest type every value fits; string (0) when there
// are no values.
func (c *csvColumn) finalType() int {
	if c.nonEmpty == 0 {
		return 0
	}
	for _, t := range []int{typInteger, typNumber, typBoolean, typDate, typTimestamp} {
		if c.cand&t != 0 {
			return t
		}
	}
	return 0
}

func typeName(t int) string {
	switch t {
	case typInteger:
		return "integer"
	case typNumber:
		return "number"
	case typBoolean:
		return "boolean"
	case typDate:
		return "date"
	case typTimestamp:
		return "timestamp"
	}
	return "string"
}

// bounds returns the minimum and maximum in the column's final type.
func (c *csvColumn) bounds() (lo, hi any) {
	if c.nonEmpty == 0 {
		return nil, nil
	}
	switch c.typ {
	case typInteger:
		return c.intMin, c.intMax
	case typNumber:
		return c.numMin, c.numMax
	case typBoolean:
		return !c.hasFalse, c.hasTrue
	case typDate:
		return c.dateMin.Format(time.DateOnly), c.dateMax.Format(time.DateOnly)
	case typTimestamp:
		return c.tsMin.Format(time.RFC3339Nano), c.tsMax.Format(time.RFC3339Nano)
	}
	return statString(c.strMin), statString(c.strMax)
}

// statString makes a string bound valid UTF-8, dropping a rune that the
// cut to maxStatString bytes split.
func statString(s string) string {
	if len(s) == maxStatString {
		for i := 1; i < utf8.UTFMax && i <= len(s); i++ {
			if utf8.RuneStart(s[len(s)-i]) {
				if !utf8.FullRuneInString(s[len(s)-i:]) {
					s = s[:len(s)-i]
				}
				break
			}
		}
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// parseInteger accepts an optional sign and decimal digits without leading
// zeros ("007" is a code, not seven) that fit 64 bits.
func parseInteger(s string) (int64, bool) {
	d := s
	if d[0] == '-' || d[0] == '+' {
		d = d[1:]
	}
	if d == "" || len(d) > 1 && d[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// parseNumber accepts a decimal number as JSON writes it, with an optional
// '+' and an optional integer part (".5"): no leading zeros, no hex, no
// infinities, no NaN, nothing out of float64's range.
func parseNumber(s string) (float64, bool) {
	i := 0
	if s[i] == '-' || s[i] == '+' {
		i++
	}
	intStart := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intDigits := i - intStart
	if intDigits > 1 && s[intStart] == '0' {
		return 0, false
	}
	fracDigits := 0
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		fracDigits = i - start
		if fracDigits == 0 {
			return 0, false
		}
	}
	if intDigits == 0 && fracDigits == 0 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func parseBoolean(s string) (bool, bool) {
	switch {
	case strings.EqualFold(s, "true"):
		return true, true
	case strings.EqualFold(s, "false"):
		return false, true
	}
	return false, false
}

// parseDate accepts an RFC 3339 full-date, YYYY-MM-DD.
func parseDate(s string) (time.Time, bool) {
	if len(s) != len(time.DateOnly) {
		return time.Time{}, false
	}
	d, err := time.Parse(time.DateOnly, s)
	return d, err == nil
}

// parseTimestamp accepts an RFC 3339 date-time with an offset; the offset
// is kept.
func parseTimestamp(s string) (time.Time, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || len(s) > 64 {
		return time.Time{}, false
	}
	ts, err := time.Parse(time.RFC3339, s)
	return ts, err == nil
}
