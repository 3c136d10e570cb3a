package processors

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
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
//
// rows.jsonl names the columns once, on its first line, then holds one
// JSON array per data row, as long as the record:
//
//	{"columns":[{"name":"id","type":"integer"},{"name":"name","type":"string"}]}
//	[1,"ann"]
//	[2,null]
//	[3]
//
// so a line is at most a few times longer than its record (an empty field
// becomes null, a control character \u0001), whatever the number of
// columns: see TestCSVProfileCompact.
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
	// maxColumnName bounds a column name, in the result and in rows.jsonl's
	// first line.
	maxColumnName = 128
	// maxStatString bounds a string minimum or maximum: both are compared
	// and reported on their first maxStatString bytes.
	maxStatString = 256
)

func (CSVProfile) Name() string { return "csv_profile" }

func (CSVProfile) Description() string {
	return "Profiles a CSV file: per column the inferred type (integer, number, boolean, date, timestamp or string), " +
		"null count, minimum, maximum and distinct count (exact up to 1,024 values, then estimated). " +
		"It stores the rows as JSON lines (rows.jsonl): a first line {\"columns\":[{\"name\":...,\"type\":...},...]} " +
		"names the columns, then each data row is a JSON array of its values in column order, typed by column, " +
		"with empty values as null; a row with fewer fields than columns has a shorter array. " +
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
		if _, err := prof.out.Write(prof.columnsLine()); err != nil {
			return err
		}
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
	pf.cols = append(pf.cols, &csvColumn{name: strings.Clone(unique), cand: typAll})
}

// columnsLine is rows.jsonl's first line: the columns' names and types.
func (pf *csvProfiler) columnsLine() []byte {
	b := append([]byte(nil), `{"columns":[`...)
	for i, c := range pf.cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, c.name)
		b = append(b, `,"type":"`...)
		b = append(b, typeName(c.typ)...)
		b = append(b, `"}`...)
	}
	return append(b, "]}\n"...)
}

// writeRecord is the second pass: one JSON array per data row, of the
// record's values in their columns' types.
func (pf *csvProfiler) writeRecord(rec []string, row int64) error {
	if row < 0 {
		return nil
	}
	if len(rec) > len(pf.cols) || pf.written == pf.rows {
		return errFileChanged
	}
	pf.written++
	b := append(pf.line[:0], '[')
	for i, v := range rec {
		if i > 0 {
			b = append(b, ',')
		}
		c := pf.cols[i]
		start := len(b)
		var ok bool
		if b, ok = c.appendValue(b, v); !ok {
			return errFileChanged
		}
		if string(b[start:]) != "null" {
			c.distinct.add(xxhash.Sum64(b[start:]))
		}
	}
	b = append(b, ']', '\n')
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
