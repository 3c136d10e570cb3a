package processors

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

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
