package processors

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

func TestCSVProfileRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, content, params string
		parts                 []string
	}{
		{"too many columns", strings.Repeat("a,", maxCSVColumns) + "a\n", `{}`, []string{"starting on line 1 has more than 1000 fields", "at most 1000 columns"}},
		{"too many columns later", "a\n" + strings.Repeat(",", maxCSVColumns+5) + "\n", `{}`, []string{"starting on line 2 has more than 1000 fields"}},
		{"unterminated quote", "a,b\n1,\"oops\n2,3\n", `{}`, []string{"malformed", "line 2", "extraneous or missing \" in quoted-field"}},
		{"bare quote", "a,b\n1,2\n3,x\"y\n", `{}`, []string{"line 3, column 4", "bare \""}},
		{"quote delimiter", "a\n", `{"delimiter":"\""}`, []string{"delimiter"}},
		{"two-character delimiter", "a\n", `{"delimiter":"ab"}`, []string{"delimiter"}},
		{"unknown params", "a\n", `{"sep":";"}`, []string{"params"}},
		{"max_rows zero", "a\n", `{"max_rows":0}`, []string{"max_rows"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, outs, _ := fileInput([]byte(tc.content), tc.params)
			_, err := CSVProfile{}.Run(context.Background(), in)
			wantInvalid(t, err, tc.parts...)
			if len(outs.files) != 0 {
				t.Fatalf("stored %v", outs.names())
			}
		})
	}
}

// TestCSVProfileHostile feeds files that never end where a careless parser
// would keep reading into memory.
func TestCSVProfileHostile(t *testing.T) {
	for _, tc := range []struct {
		name  string
		head  string
		fill  byte
		parts []string
	}{
		{"a quote never closed", "a,b\n1,\"", '\n', []string{"starting on line 2 is longer than 8 MiB", "quote"}},
		{"a line never ended", "", 'x', []string{"starting on line 1 is longer than 8 MiB"}},
		{"a line of delimiters", "a\n\"x\ny\",", ',', []string{"starting on line 2 has more than 1000 fields"}},
		{"a quoted field of delimiters", "a\n\"", ',', []string{"starting on line 2 is longer than 8 MiB"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := &filled{head: []byte(tc.head), fill: tc.fill}
			in, _, _ := fileInput(nil, `{}`)
			in.Open = func(context.Context) (io.ReadCloser, error) { return io.NopCloser(src), nil }
			_, err := CSVProfile{}.Run(context.Background(), in)
			wantInvalid(t, err, tc.parts...)
			if src.n > maxCSVRecord+1<<20 {
				t.Fatalf("read %d bytes before refusing", src.n)
			}
		})
	}
}

// filled follows head with fill bytes, without end, counting them.
type filled struct {
	head []byte
	fill byte
	n    int64
}

func (f *filled) Read(p []byte) (int, error) {
	n := copy(p, f.head)
	f.head = f.head[n:]
	for i := n; i < len(p); i++ {
		p[i] = f.fill
	}
	f.n += int64(len(p))
	return len(p), nil
}

func TestCSVProfileGuardFollowsQuotes(t *testing.T) {
	// Delimiters, quotes and line feeds inside quoted fields are data.
	commas := strings.Repeat(",", 3*maxCSVColumns)
	content := "a;b\n\"" + commas + "\";\"x\"\"\n;\"\"y\"\n" + strings.Repeat("z;", 999) + "z\n"
	res, lines, _ := runCSV(t, content, `{"delimiter":";"}`)
	var row []any
	if err := json.Unmarshal([]byte(lines[0]), &row); err != nil || len(row) != 2 {
		t.Fatalf("first row %.40s: %v", lines[0], err)
	}
	if res.Rows != 2 || len(res.Columns) != 1000 || row[0] != commas || row[1] != "x\"\n;\"y" {
		t.Fatalf("%d rows, %d columns, first row a=%.20q… b=%q", res.Rows, len(res.Columns), row[0], row[1])
	}

	// The record's line is counted across quoted line feeds, and a
	// several-byte delimiter is counted whole.
	content = "a\n\"1\n2\n3\"\n" + strings.Repeat("é", maxCSVColumns) + "\n"
	in, _, _ := fileInput([]byte(content), `{"delimiter":"é"}`)
	_, err := CSVProfile{}.Run(context.Background(), in)
	wantInvalid(t, err, "starting on line 5 has more than 1000 fields")
}
