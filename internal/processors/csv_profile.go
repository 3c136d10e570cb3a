package processors

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
)

// CSVProfile profiles a CSV file column by column (inferred type, nulls,
// minimum, maximum, distinct values) and writes its rows, typed, as JSON
// lines. It reads the file twice, as a stream each time: once to learn the
// columns' types, once to write the rows in them. Memory is bounded by the
// number of columns, not the number of rows.
type CSVProfile struct{}

// CSVProfileResult is CSVProfile's result.
type CSVProfileResult struct {
	// Rows is the number of data rows profiled (the header is not a row).
	Rows int64 `json:"rows"`
	// RaggedRows counts data rows whose number of fields differs from the
	// first record's (the header's, when there is one).
	RaggedRows int64 `json:"ragged_rows"`
	// Truncated says that max_rows stopped the profile before the end.
	Truncated bool        `json:"truncated"`
	Columns   []CSVColumn `json:"columns"`
}

// CSVColumn is the profile of one column.
type CSVColumn struct {
	Name string `json:"name"`
	// Type is the narrowest of integer, number, boolean, date, timestamp
	// and string that every non-empty value fits.
	Type string `json:"type"`
	// NullCount counts rows where the value is empty, blank or missing.
	NullCount int64 `json:"null_count"`
	// Min and Max are typed as Type says; null without values.
	Min any `json:"min"`
	Max any `json:"max"`
	// Distinct counts the distinct non-null values, after normalisation;
	// exact when DistinctExact, otherwise a HyperLogLog estimate (about
	// 1.6% standard error).
	Distinct      int64 `json:"distinct"`
	DistinctExact bool  `json:"distinct_exact"`
}

type csvParams struct {
	Delimiter string `json:"delimiter"`
	Header    bool   `json:"header"`
	MaxRows   *int64 `json:"max_rows"`
}

const (
	maxCSVColumns = 1000
	// maxCSVRecord bounds one record (all its fields, across lines), so an
	// unterminated quote cannot pull the rest of the file into memory.
	maxCSVRecord = 8 << 20
	// maxColumnName bounds a column name: it is repeated on every line of
	// rows.jsonl.
	maxColumnName = 128
	// maxStatString bounds a string minimum or maximum: both are compared
	// and reported on their first maxStatString bytes.
	maxStatString = 256
)

func (CSVProfile) Name() string { return "csv_profile" }

func (CSVProfile) Description() string {
	return "Profiles a CSV file: per column the inferred type (integer, number, boolean, date, timestamp or string), " +
		"null count, minimum, maximum and distinct count (exact up to 1,024 values, then estimated); " +
		"and stores the rows as JSON lines typed by column (rows.jsonl), with empty values as null. " +
		"At most 1,000 columns and 8 MiB per record; quotes follow RFC 4180."
}

func (CSVProfile) NeedsFile() bool { return true }

// Priority implements Processor.
func (CSVProfile) Priority() Priority { return PriorityDefault }

// Timeout implements Processor.
func (CSVProfile) Timeout() time.Duration { return 10 * time.Minute }

func (CSVProfile) ParamsSchema() string {
	return `{"type":"object","additionalProperties":false,"properties":{` +
		`"delimiter":{"type":"string","minLength":1,"maxLength":1,"pattern":"^[^\"\\r\\n]$","default":",","description":"The field separator: one character, not a quote or a line break."},` +
		`"header":{"type":"boolean","default":true,"description":"Whether the first record names the columns; without it they are column_1, column_2, ..."},` +
		`"max_rows":{"type":"integer","minimum":1,"description":"Profile only the first max_rows data rows (rows.jsonl holds the same rows)."}}}`
}

// The column types, narrowest first; string fits every value.
const (
	typInteger = 1 << iota
	typNumber
	typBoolean
	typDate
	typTimestamp
	typAll = typInteger | typNumber | typBoolean | typDate | typTimestamp
)

// Run implements Processor.
func (CSVProfile) Run(ctx context.Context, in Input) (Output, error) {
	p := csvParams{Delimiter: ",", Header: true}
	if err := decodeParams(in.Params, &p); err != nil {
		return Output{}, err
	}
	comma, size := utf8.DecodeRuneInString(p.Delimiter)
	if size == 0 || size != len(p.Delimiter) || comma == utf8.RuneError || comma == '"' || comma == '\r' || comma == '\n' {
		return Output{}, paramsf("delimiter must be one character, not a quote or a line break.")
	}
	if p.MaxRows != nil && *p.MaxRows < 1 {
		return Output{}, paramsf("max_rows must be at least 1.")
	}
	if in.Open == nil {
		return Output{}, errors.New("csv_profile: no file")
	}
	var fileSize int64
	if in.File != nil {
		fileSize = in.File.Size
	}
	prof := &csvProfiler{comma: comma, header: p.Header, maxRows: math.MaxInt64}
	if p.MaxRows != nil {
		prof.maxRows = *p.MaxRows
	}

	if err := prof.pass(ctx, in.Open, fileSize, in.Progress, 0, 50, prof.profileRecord); err != nil {
		return Output{}, err
	}
	if in.Progress != nil {
		in.Progress(50)
	}

	// The types are known: write the rows in them, counting distinct
	// normalised values on the way.
	for _, c := range prof.cols {
		c.typ = c.finalType()
	}
	err := putStreams(ctx, in.Put, []output{{"rows.jsonl", "application/x-ndjson"}}, func(ws []io.Writer) error {
		prof.out = ws[0]
		if err := prof.pass(ctx, in.Open, fileSize, in.Progress, 50, 100, prof.writeRecord); err != nil {
			return err
		}
		if prof.written != prof.rows {
			return errFileChanged
		}
		return nil
	})
	if err != nil {
		return Output{}, err
	}
	if in.Progress != nil {
		in.Progress(100)
	}
	b, err := json.Marshal(prof.result())
	return Output{Result: b}, err
}

// csvProfiler holds what the passes learn.
type csvProfiler struct {
	comma   rune
	header  bool
	maxRows int64

	cols      []*csvColumn
	names     map[string]bool
	firstLen  int // fields in the first record
	rows      int64
	ragged    int64
	truncated bool

	out     io.Writer // the second pass's output
	line    []byte    // the second pass's line buffer
	written int64     // the second pass's rows
}

// pass reads the file once, handing each record to fn, with a data-row
// index (-1 for the header).
func (pf *csvProfiler) pass(ctx context.Context, open func(context.Context) (io.ReadCloser, error), size int64, progress func(int), lo, hi int, fn func(rec []string, row int64) error) error {
	rc, err := open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	fr := newFileReader(ctx, rc, size, progress, lo, hi)
	br := bufio.NewReaderSize(fr, 64<<10)
	if b, _ := br.Peek(3); string(b) == "\xef\xbb\xbf" { // a UTF-8 byte order mark
		_, _ = br.Discard(3)
	}
	g := newRecordGuard(br, pf.comma)
	cr := csv.NewReader(g)
	cr.Comma = pf.comma
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true

	var row int64 = -1
	if !pf.header {
		row = 0
	}
	for {
		if row >= pf.maxRows {
			_, err := cr.Read() // anything but the end means more rows
			pf.truncated = err != io.EOF
			break
		}
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return csvError(err, fr)
		}
		if len(rec) > maxCSVColumns { // the guard stops this first; kept in case they disagree
			line, _ := cr.FieldPos(0)
			return invalidf("The record on line %d has %d fields; csv_profile handles at most %d columns.", line, len(rec), maxCSVColumns)
		}
		if err := fn(rec, row); err != nil {
			return err
		}
		row++
	}
	return nil
}

// csvError turns an error reading a record into the job's error.
func csvError(err error, fr *fileReader) error {
	var ge *guardError
	var pe *csv.ParseError
	switch {
	case errors.As(err, &ge):
		return invalidf("%s", ge.msg)
	case fr.Err() != nil:
		return fmt.Errorf("csv_profile: read: %w", fr.Err())
	case errors.As(err, &pe):
		return invalidf("The CSV is malformed: %v.", pe)
	}
	return fmt.Errorf("csv_profile: read: %w", err)
}

// guardError is a record over a bound.
type guardError struct{ msg string }

func (e *guardError) Error() string { return e.msg }

// recordGuard passes the file on to the CSV reader while following its
// records (RFC 4180 quoting, the delimiter, line feeds), and fails once a
// record grows past maxCSVRecord bytes or maxCSVColumns fields. The CSV
// reader would otherwise gather an unterminated quote up to the end of
// the file, and keep about 40 bytes of bookkeeping per field: 320 MB for
// one 8 MiB line of commas.
type recordGuard struct {
	r     io.Reader
	delim []byte
	err   error

	n        int64 // bytes passed on
	line     int   // the current line, from 1, counted as encoding/csv does
	recStart int64 // where the current record starts
	recLine  int
	fields   int

	fieldStart bool // at the first byte of a field
	inQuotes   bool // inside a quoted field
	quote      bool // a quote inside a quoted field: an end, or half of ""
	match      int  // bytes of delim matched so far
}

func newRecordGuard(r io.Reader, comma rune) *recordGuard {
	return &recordGuard{r: r, delim: utf8.AppendRune(nil, comma), line: 1, recLine: 1, fields: 1, fieldStart: true}
}

func (g *recordGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	d0 := g.delim[0]
	for i, c := range p[:n] {
		switch {
		case c == '\n':
			g.line++
		case c != '"' && c != d0 && g.match == 0 && !g.quote:
			// Most bytes: inside a field, changing nothing that counts.
			g.fieldStart = false
			continue
		}
		g.scan(c, g.n+int64(i))
		if g.fields > maxCSVColumns {
			g.err = &guardError{fmt.Sprintf("The record starting on line %d has more than %d fields; csv_profile handles at most %d columns.", g.recLine, maxCSVColumns, maxCSVColumns)}
			return 0, g.err
		}
	}
	g.n += int64(n)
	// Checked a read at a time: a record may pass the bound by one read
	// (the CSV reader asks for 4 KiB).
	if g.n-g.recStart > maxCSVRecord {
		g.err = &guardError{fmt.Sprintf("The record starting on line %d is longer than %d MiB; is a quote left open?", g.recLine, maxCSVRecord>>20)}
		return 0, g.err
	}
	return n, err
}

// scan follows a byte at offset off that may change the state: a quote,
// a line feed, or a byte of the delimiter.
func (g *recordGuard) scan(c byte, off int64) {
	if g.inQuotes {
		if !g.quote {
			g.quote = c == '"'
			return
		}
		g.quote = false
		if c == '"' { // an escaped quote
			return
		}
		g.inQuotes = false // the quote closed the field; c follows it
	}
	switch {
	case g.fieldStart && c == '"':
		g.inQuotes, g.fieldStart = true, false
		return
	case c == '\n':
		g.recStart, g.recLine, g.fields, g.fieldStart, g.match = off+1, g.line, 1, true, 0
		return
	}
	if c == g.delim[g.match] {
		g.match++
	} else if g.match = 0; c == g.delim[0] {
		g.match = 1
	}
	if g.match < len(g.delim) {
		g.fieldStart = false
		return
	}
	g.match, g.fieldStart = 0, true
	g.fields++
}

// errFileChanged is a second read that does not match the first; the
// object should not change, so another attempt may do better.
var errFileChanged = errors.New("csv_profile: the file changed between reads")

// profileRecord is the first pass: names, types, nulls, bounds.
func (pf *csvProfiler) profileRecord(rec []string, row int64) error {
	if pf.names == nil { // the first record
		pf.names = map[string]bool{}
		pf.firstLen = len(rec)
		if row < 0 { // the header names the columns
			for i, name := range rec {
				pf.addColumn(i, name)
			}
			return nil
		}
	}
	if len(rec) != pf.firstLen {
		pf.ragged++
	}
	for i := len(pf.cols); i < len(rec); i++ {
		pf.addColumn(i, "")
	}
	for i, v := range rec {
		pf.cols[i].observe(v)
	}
	pf.rows++
	return nil
}

// addColumn names column i: name trimmed, bounded and made unique, or
// column_<i+1> when there is none.
func (pf *csvProfiler) addColumn(i int, name string) {
	name = strings.ToValidUTF8(strings.TrimSpace(name), "\uFFFD")
	if len(name) > maxColumnName {
		name = strings.ToValidUTF8(name[:maxColumnName], "")
	}
	if name == "" {
		name = "column_" + strconv.Itoa(i+1)
	}
	unique := name
	for k := 2; pf.names[unique]; k++ {
		unique = name + "_" + strconv.Itoa(k)
	}
	pf.names[unique] = true
	c := &csvColumn{name: strings.Clone(unique), cand: typAll}
	c.key = appendJSONString(nil, c.name)
	pf.cols = append(pf.cols, c)
}

// writeRecord is the second pass: one JSON object per data row.
func (pf *csvProfiler) writeRecord(rec []string, row int64) error {
	if row < 0 {
		return nil
	}
	if len(rec) > len(pf.cols) || pf.written == pf.rows {
		return errFileChanged
	}
	pf.written++
	b := append(pf.line[:0], '{')
	for i, c := range pf.cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, c.key...)
		b = append(b, ':')
		v := ""
		if i < len(rec) {
			v = rec[i]
		}
		start := len(b)
		var ok bool
		if b, ok = c.appendValue(b, v); !ok {
			return errFileChanged
		}
		if string(b[start:]) != "null" {
			c.distinct.add(xxhash.Sum64(b[start:]))
		}
	}
	b = append(b, '}', '\n')
	pf.line = b
	_, err := pf.out.Write(b)
	return err
}

func (pf *csvProfiler) result() CSVProfileResult {
	res := CSVProfileResult{Rows: pf.rows, RaggedRows: pf.ragged, Truncated: pf.truncated, Columns: make([]CSVColumn, 0, len(pf.cols))}
	for _, c := range pf.cols {
		n, exact := c.distinct.estimate()
		col := CSVColumn{Name: c.name, Type: typeName(c.typ), NullCount: pf.rows - c.nonEmpty, Distinct: n, DistinctExact: exact}
		col.Min, col.Max = c.bounds()
		res.Columns = append(res.Columns, col)
	}
	return res
}

// csvColumn is what is known of one column.
type csvColumn struct {
	name string
	key  []byte // name as a JSON string
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

// distinctCounter counts distinct 64-bit hashes: exactly up to
// distinctExact of them, then with HyperLogLog (2^hllP one-byte
// registers, Ertl's improved estimator, which needs no bias tables and is
// sound from small to large counts).
type distinctCounter struct {
	exact map[uint64]struct{}
	reg   []uint8
}

const (
	distinctExact = 1024
	hllP          = 12
	hllM          = 1 << hllP
	hllQ          = 64 - hllP
)

func (d *distinctCounter) add(h uint64) {
	if d.reg != nil {
		d.addReg(h)
		return
	}
	if d.exact == nil {
		d.exact = map[uint64]struct{}{}
	}
	d.exact[h] = struct{}{}
	if len(d.exact) <= distinctExact {
		return
	}
	d.reg = make([]uint8, hllM)
	for h := range d.exact {
		d.addReg(h)
	}
	d.exact = nil
}

func (d *distinctCounter) addReg(h uint64) {
	idx := h >> hllQ
	// The guard bit caps the rank at hllQ+1.
	rank := uint8(bits.LeadingZeros64(h<<hllP|1<<(hllP-1))) + 1
	if rank > d.reg[idx] {
		d.reg[idx] = rank
	}
}

// estimate returns the count, and whether it is exact.
func (d *distinctCounter) estimate() (int64, bool) {
	if d.reg == nil {
		return int64(len(d.exact)), true
	}
	var hist [hllQ + 2]int
	for _, r := range d.reg {
		hist[r]++
	}
	const m = float64(hllM)
	z := m * hllTau(1-float64(hist[hllQ+1])/m)
	for k := hllQ; k >= 1; k-- {
		z = 0.5 * (z + float64(hist[k]))
	}
	z += m * hllSigma(float64(hist[0])/m)
	// More than distinctExact were counted exactly before the switch.
	return max(distinctExact+1, int64(math.Round(m*m/(2*math.Ln2)/z))), false
}

func hllSigma(x float64) float64 {
	if x == 1 {
		return math.Inf(1)
	}
	y, z := 1.0, x
	for {
		x *= x
		prev := z
		z += x * y
		y += y
		if z == prev {
			return z
		}
	}
}

func hllTau(x float64) float64 {
	if x == 0 || x == 1 {
		return 0
	}
	y, z := 1.0, 1-x
	for {
		x = math.Sqrt(x)
		prev := z
		y *= 0.5
		z -= (1 - x) * (1 - x) * y
		if z == prev {
			return z / 3
		}
	}
}
