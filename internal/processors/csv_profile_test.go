package processors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func runCSV(t *testing.T, content, params string) (CSVProfileResult, []string, *progressLog) {
	t.Helper()
	in, outs, prog := fileInput([]byte(content), params)
	out, err := CSVProfile{}.Run(context.Background(), in)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var res CSVProfileResult
	if err := json.Unmarshal(out.Result, &res); err != nil {
		t.Fatal(err)
	}
	o := outs.get(t, "rows.jsonl")
	if o.contentType != "application/x-ndjson" {
		t.Fatalf("content type %s", o.contentType)
	}
	var lines []string
	for _, l := range strings.SplitAfter(string(o.body), "\n") {
		if l == "" {
			continue
		}
		if !strings.HasSuffix(l, "\n") || !json.Valid([]byte(l)) {
			t.Fatalf("rows.jsonl line %q is not a JSON line", l)
		}
		lines = append(lines, strings.TrimSuffix(l, "\n"))
	}
	if int64(len(lines)) != res.Rows+1 {
		t.Fatalf("rows.jsonl has %d lines, result says %d rows (and one line names the columns)", len(lines), res.Rows)
	}
	// The first line names the columns as the result does.
	var head struct {
		Columns []struct{ Name, Type string }
	}
	dec := json.NewDecoder(strings.NewReader(lines[0]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&head); err != nil || len(head.Columns) != len(res.Columns) {
		t.Fatalf("rows.jsonl's first line %s: %v", lines[0], err)
	}
	for i, c := range head.Columns {
		if c.Name != res.Columns[i].Name || c.Type != res.Columns[i].Type {
			t.Fatalf("rows.jsonl names column %d %s (%s), the result %s (%s)", i, c.Name, c.Type, res.Columns[i].Name, res.Columns[i].Type)
		}
	}
	// Every other line is an array of at most one value per column.
	for _, l := range lines[1:] {
		var row []any
		if err := json.Unmarshal([]byte(l), &row); err != nil || len(row) == 0 || len(row) > len(res.Columns) {
			t.Fatalf("rows.jsonl row %s: %v", l, err)
		}
	}
	return res, lines[1:], prog
}

// col returns the column called name, as JSON-decoded values.
func col(t *testing.T, res CSVProfileResult, name string) CSVColumn {
	t.Helper()
	for _, c := range res.Columns {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no column %q in %+v", name, res.Columns)
	return CSVColumn{}
}

func TestCSVProfileTypes(t *testing.T) {
	content := "id,price,active,day,at,name,empty,mixed,zip\r\n" +
		"1,1.5,true,2024-01-02,2024-01-02T03:04:05Z,alice,,1,02134\r\n" +
		"2,-0.25,FALSE,2023-12-31,2024-01-02T05:04:05+02:00,bob,,2.5,10001\r\n" +
		"-3,1e3,True,2024-02-29,2023-06-01T00:00:00.5Z,,,3,00501\r\n"
	res, lines, prog := runCSV(t, content, `{}`)
	if res.Rows != 3 || res.RaggedRows != 0 || res.Truncated || len(res.Columns) != 9 {
		t.Fatalf("result %+v", res)
	}
	for _, tc := range []struct {
		name, typ string
		nulls     int64
		min, max  any
		distinct  int64
	}{
		{"id", "integer", 0, -3.0, 2.0, 3},
		{"price", "number", 0, -0.25, 1000.0, 3},
		{"active", "boolean", 0, false, true, 2},
		{"day", "date", 0, "2023-12-31", "2024-02-29", 3},
		{"at", "timestamp", 0, "2023-06-01T00:00:00.5Z", "2024-01-02T03:04:05Z", 3},
		{"name", "string", 1, "alice", "bob", 2},
		{"empty", "string", 3, nil, nil, 0},
		{"mixed", "number", 0, 1.0, 3.0, 3},
		{"zip", "string", 0, "00501", "10001", 3},
	} {
		c := col(t, res, tc.name)
		if c.Type != tc.typ || c.NullCount != tc.nulls || !reflect.DeepEqual(c.Min, tc.min) || !reflect.DeepEqual(c.Max, tc.max) ||
			c.Distinct != tc.distinct || !c.DistinctExact {
			t.Errorf("column %s = %+v, want %+v", tc.name, c, tc)
		}
	}
	want := []string{
		`[1,1.5,true,"2024-01-02","2024-01-02T03:04:05Z","alice",null,1,"02134"]`,
		`[2,-0.25,false,"2023-12-31","2024-01-02T05:04:05+02:00","bob",null,2.5,"10001"]`,
		`[-3,1000,true,"2024-02-29","2023-06-01T00:00:00.5Z",null,null,3,"00501"]`,
	}
	if !reflect.DeepEqual(lines, want) {
		t.Fatalf("rows.jsonl:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	prog.check(t, 50)

	// The whole output, byte for byte.
	in, outs, _ := fileInput([]byte(content), `{}`)
	if _, err := (CSVProfile{}).Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	wantBody := `{"columns":[{"name":"id","type":"integer"},{"name":"price","type":"number"},{"name":"active","type":"boolean"},` +
		`{"name":"day","type":"date"},{"name":"at","type":"timestamp"},{"name":"name","type":"string"},{"name":"empty","type":"string"},` +
		`{"name":"mixed","type":"number"},{"name":"zip","type":"string"}]}` + "\n" + strings.Join(want, "\n") + "\n"
	if got := string(outs.get(t, "rows.jsonl").body); got != wantBody {
		t.Fatalf("rows.jsonl:\n%s\nwant:\n%s", got, wantBody)
	}
}

func TestCSVProfileInference(t *testing.T) {
	for _, tc := range []struct {
		values []string
		typ    string
		first  string // the first value as written to rows.jsonl
	}{
		{[]string{"1", "2"}, "integer", `1`},
		{[]string{"1", "x"}, "string", `"1"`},
		{[]string{"1", "2.0"}, "number", `1`},
		{[]string{"-0", "+5"}, "integer", `0`},
		{[]string{"9223372036854775807"}, "integer", `9223372036854775807`},
		{[]string{"9223372036854775808"}, "number", `9223372036854776000`},
		{[]string{".5", "-1.25E-7"}, "number", `0.5`},
		{[]string{"1e21"}, "number", `1e+21`},
		{[]string{"5."}, "string", `"5."`},
		{[]string{"007"}, "string", `"007"`},
		{[]string{"0.5", "00.5"}, "string", `"0.5"`},
		{[]string{"1e999"}, "string", `"1e999"`},
		{[]string{"NaN"}, "string", `"NaN"`},
		{[]string{"inf"}, "string", `"inf"`},
		{[]string{"0x10"}, "string", `"0x10"`},
		{[]string{"1_000"}, "string", `"1_000"`},
		{[]string{" 42 ", "7"}, "integer", `42`},
		{[]string{"true", "0"}, "string", `"true"`},
		{[]string{"TRUE", "false"}, "boolean", `true`},
		{[]string{"yes"}, "string", `"yes"`},
		{[]string{"2024-02-29"}, "date", `"2024-02-29"`},
		{[]string{"2023-02-29"}, "string", `"2023-02-29"`},
		{[]string{"2024-1-2"}, "string", `"2024-1-2"`},
		{[]string{"2024-01-01", "2024-01-01T00:00:00Z"}, "string", `"2024-01-01"`},
		{[]string{"2024-01-01T10:00:00.123456789-07:00"}, "timestamp", `"2024-01-01T10:00:00.123456789-07:00"`},
		{[]string{"2024-01-01T25:00:00Z"}, "string", `"2024-01-01T25:00:00Z"`},
		{[]string{"2024-01-01 10:00:00"}, "string", `"2024-01-01 10:00:00"`},
		{[]string{"", " "}, "string", `null`},
		{[]string{`"a ""quoted"", multi` + "\n" + `line"`}, "string", `"a \"quoted\", multi\nline"`},
	} {
		content := "v\n" + strings.Join(tc.values, "\n") + "\n"
		res, lines, _ := runCSV(t, content, `{}`)
		c := col(t, res, "v")
		if c.Type != tc.typ || lines[0] != `[`+tc.first+`]` {
			t.Errorf("%q: type %s, first line %s; want %s, %s", tc.values, c.Type, lines[0], tc.typ, tc.first)
		}
	}
}

func TestCSVProfileDistinctIsOfNormalisedValues(t *testing.T) {
	res, _, _ := runCSV(t, "n,b\n1,true\n1.0,TRUE\n1.00,True\n2,false\n", `{}`)
	if n := col(t, res, "n"); n.Type != "number" || n.Distinct != 2 {
		t.Fatalf("n = %+v, want 2 distinct numbers", n)
	}
	if b := col(t, res, "b"); b.Distinct != 2 {
		t.Fatalf("b = %+v, want 2 distinct booleans", b)
	}
}

func TestCSVProfileShapes(t *testing.T) {
	t.Run("no header, ragged rows", func(t *testing.T) {
		res, lines, _ := runCSV(t, "a,b\nc\nd,e,f\n", `{"header":false}`)
		if res.Rows != 3 || res.RaggedRows != 2 || len(res.Columns) != 3 {
			t.Fatalf("result %+v", res)
		}
		if c := col(t, res, "column_3"); c.NullCount != 2 || c.Min != "f" {
			t.Fatalf("column_3 = %+v", c)
		}
		if c := col(t, res, "column_2"); c.NullCount != 1 {
			t.Fatalf("column_2 = %+v", c)
		}
		if lines[0] != `["a","b"]` || lines[1] != `["c"]` || lines[2] != `["d","e","f"]` {
			t.Fatalf("rows.jsonl %q", lines)
		}
	})
	t.Run("header names made unique", func(t *testing.T) {
		long := strings.Repeat("x", 200)
		res, lines, _ := runCSV(t, " a ,a,,a_2,column_3,"+long+"\n1,2,3,4,5,6\n", `{}`)
		var names []string
		for _, c := range res.Columns {
			names = append(names, c.Name)
		}
		if want := []string{"a", "a_2", "column_3", "a_2_2", "column_3_2", long[:maxColumnName]}; !reflect.DeepEqual(names, want) {
			t.Fatalf("names %q, want %q", names, want)
		}
		if lines[0] != `[1,2,3,4,5,6]` {
			t.Fatalf("row %s", lines[0])
		}
	})
	t.Run("header wider than the rows, and narrower", func(t *testing.T) {
		res, lines, _ := runCSV(t, "a,b,c\n1\n1,2,3,4\n", `{}`)
		if res.RaggedRows != 2 || len(res.Columns) != 4 || res.Columns[3].Name != "column_4" {
			t.Fatalf("result %+v", res)
		}
		if lines[0] != `[1]` || lines[1] != `[1,2,3,4]` {
			t.Fatalf("rows.jsonl %q", lines)
		}
	})
	t.Run("delimiters", func(t *testing.T) {
		for _, d := range []string{";", "\t", "|", "é"} {
			content := strings.ReplaceAll("a,b\n1,\"x,y\"\n2,z\n", ",", d)
			p, _ := json.Marshal(map[string]string{"delimiter": d})
			res, lines, _ := runCSV(t, content, string(p))
			if len(res.Columns) != 2 || col(t, res, "a").Type != "integer" || !strings.Contains(lines[0], string(appendJSONString(nil, "x"+d+"y"))) {
				t.Fatalf("delimiter %q: %+v %q", d, res, lines)
			}
		}
	})
	t.Run("byte order mark before a quoted header", func(t *testing.T) {
		res, _, _ := runCSV(t, "\xef\xbb\xbf\"name\",n\n\"x\",1\n", `{}`)
		if res.Columns[0].Name != "name" {
			t.Fatalf("first column %q", res.Columns[0].Name)
		}
	})
	t.Run("empty file", func(t *testing.T) {
		res, _, _ := runCSV(t, "", `{}`)
		if res.Rows != 0 || len(res.Columns) != 0 {
			t.Fatalf("result %+v", res)
		}
	})
	t.Run("header only", func(t *testing.T) {
		res, _, _ := runCSV(t, "a,b\n", `{}`)
		if res.Rows != 0 || len(res.Columns) != 2 || res.Columns[0].Type != "string" || res.Columns[0].Min != nil {
			t.Fatalf("result %+v", res)
		}
	})
	t.Run("invalid UTF-8", func(t *testing.T) {
		res, lines, _ := runCSV(t, "n\xff\nab\xfe\n", `{}`)
		if res.Columns[0].Name != "n\uFFFD" || res.Columns[0].Min != "ab\uFFFD" || lines[0] != `["ab\ufffd"]` {
			t.Fatalf("result %+v, rows %q", res, lines)
		}
	})
}

func TestCSVProfileMaxRows(t *testing.T) {
	content := "a\n1\n2\n3\n4\n5\n"
	res, lines, _ := runCSV(t, content, `{"max_rows":2}`)
	if res.Rows != 2 || !res.Truncated || len(lines) != 2 || col(t, res, "a").Max != 2.0 {
		t.Fatalf("result %+v", res)
	}
	res, _, _ = runCSV(t, content, `{"max_rows":5}`)
	if res.Rows != 5 || res.Truncated {
		t.Fatalf("result %+v", res)
	}
	res, _, _ = runCSV(t, "1\n2\n3\n", `{"max_rows":1,"header":false}`)
	if res.Rows != 1 || !res.Truncated {
		t.Fatalf("result %+v", res)
	}
}

func TestCSVProfileStringBounds(t *testing.T) {
	long := strings.Repeat("é", 200)                    // 400 bytes
	split := strings.Repeat("a", maxStatString-1) + "é" // é cut in two at the bound
	res, lines, _ := runCSV(t, "s\n"+long+"\n"+split+"z\n", `{}`)
	c := col(t, res, "s")
	if c.Min != strings.Repeat("a", maxStatString-1) || c.Max != strings.Repeat("é", maxStatString/2) {
		t.Fatalf("min %q max %q", c.Min, c.Max)
	}
	if !strings.Contains(lines[0], long) {
		t.Fatal("rows.jsonl does not hold the whole value")
	}
}

func TestCSVProfileWide(t *testing.T) {
	var b strings.Builder
	for i := range maxCSVColumns {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "c%d", i)
	}
	b.WriteByte('\n')
	for r := range 50 {
		for i := range maxCSVColumns {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(r * i))
		}
		b.WriteByte('\n')
	}
	res, _, _ := runCSV(t, b.String(), `{}`)
	if len(res.Columns) != maxCSVColumns || res.Rows != 50 || col(t, res, "c999").Max != 49.0*999 {
		t.Fatalf("%d columns, %d rows", len(res.Columns), res.Rows)
	}
}

func TestCSVProfileDeterministic(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,word,score\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "%d,w%d,%d.5\n", i, i%3000, i%97)
	}
	run := func() ([]byte, []byte) {
		in, outs, _ := fileInput([]byte(b.String()), `{}`)
		out, err := CSVProfile{}.Run(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		return out.Result, outs.get(t, "rows.jsonl").body
	}
	r1, o1 := run()
	r2, o2 := run()
	if !bytes.Equal(r1, r2) || !bytes.Equal(o1, o2) {
		t.Fatal("two runs differ")
	}
	var res CSVProfileResult
	_ = json.Unmarshal(r1, &res)
	if c := col(t, res, "word"); c.DistinctExact || math.Abs(float64(c.Distinct)-3000)/3000 > 0.05 {
		t.Fatalf("word = %+v, want about 3000 distinct", c)
	}
	if c := col(t, res, "score"); !c.DistinctExact || c.Distinct != 97 {
		t.Fatalf("score = %+v, want exactly 97", c)
	}
}

func TestCSVProfileTransientFailures(t *testing.T) {
	content := []byte("a,b\n1,2\n3,4\n")

	// The second read of the file fails.
	in, _, _ := fileInput(content, `{}`)
	opens := 0
	in.Open = func(context.Context) (io.ReadCloser, error) {
		opens++
		if opens == 2 {
			return io.NopCloser(&failingReader{data: content[:6]}), nil
		}
		return io.NopCloser(bytes.NewReader(content)), nil
	}
	_, err := CSVProfile{}.Run(context.Background(), in)
	wantRetryable(t, err)

	// The second read has more rows than the first.
	for _, second := range []string{"a,b\n1,2\n3,4\n5,6\n", "a,b\n1,2\n", "a,b\n1,x\n3,4\n"} {
		in, _, _ = fileInput(content, `{}`)
		opens = 0
		in.Open = func(context.Context) (io.ReadCloser, error) {
			if opens++; opens == 2 {
				return io.NopCloser(strings.NewReader(second)), nil
			}
			return io.NopCloser(bytes.NewReader(content)), nil
		}
		_, err = CSVProfile{}.Run(context.Background(), in)
		if !errors.Is(err, errFileChanged) {
			t.Fatalf("second read %q: err = %v, want errFileChanged", second, err)
		}
	}

	in, _, _ = fileInput(content, `{}`)
	in.Put = func(_ context.Context, _, _ string, body io.Reader) (int64, error) {
		_, _ = io.CopyN(io.Discard, body, 3)
		return 0, errors.New("s3: 503")
	}
	_, err = CSVProfile{}.Run(context.Background(), in)
	wantRetryable(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in, _, _ = fileInput(content, `{}`)
	if _, err := (CSVProfile{}).Run(ctx, in); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// BenchmarkCSVProfile profiles 100,000 rows of five columns, most of them
// with more distinct values than are counted exactly.
func BenchmarkCSVProfile(b *testing.B) {
	var csv bytes.Buffer
	csv.WriteString("id,name,score,day,flag\n")
	for i := range 100_000 {
		fmt.Fprintf(&csv, "%d,name-%d,%d.25,2024-01-%02d,%t\n", i, i%20_000, i%5000, 1+i%28, i%3 == 0)
	}
	b.SetBytes(int64(csv.Len()))
	b.ReportAllocs()
	for b.Loop() {
		in, _, _ := fileInput(csv.Bytes(), `{}`)
		if _, err := (CSVProfile{}).Run(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}
