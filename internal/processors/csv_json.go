package processors

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// appendValue appends v as JSON in the column's final type; ok is false
// when v does not fit it.
func (c *csvColumn) appendValue(b []byte, v string) ([]byte, bool) {
	t := strings.TrimSpace(v)
	if t == "" {
		return append(b, "null"...), true
	}
	switch c.typ {
	case typInteger:
		n, ok := parseInteger(t)
		return strconv.AppendInt(b, n, 10), ok
	case typNumber:
		f, ok := parseNumber(t)
		return appendJSONFloat(b, f), ok
	case typBoolean:
		x, ok := parseBoolean(t)
		return strconv.AppendBool(b, x), ok
	case typDate:
		_, ok := parseDate(t) // parsed with the layout: t is already canonical
		return appendJSONString(b, t), ok
	case typTimestamp:
		ts, ok := parseTimestamp(t)
		return appendJSONString(b, ts.Format(time.RFC3339Nano)), ok
	}
	return appendJSONString(b, v), true
}

// appendJSONFloat appends f as encoding/json writes a float64.
func appendJSONFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // e-09 → e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
