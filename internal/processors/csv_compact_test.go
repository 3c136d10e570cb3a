package processors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// wideTinyCSV is a hostile CSV: a header of 1,000 columns, then rows of one
// short field each. Written as one JSON object per row (column names and a
// null for every missing value) its rows.jsonl would be about 4,000 times
// its size.
func wideTinyCSV(rows int) []byte {
	var b bytes.Buffer
	for i := range maxCSVColumns {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "column_name_%04d", i)
	}
	b.WriteByte('\n')
	for i := range rows {
		fmt.Fprintf(&b, "%d\n", i%10)
	}
	return b.Bytes()
}

// TestCSVProfileCompact: rows.jsonl stays within six bytes per byte of the
// CSV, whatever shape the CSV takes (the six is an empty field's "null,"
// for ",", and a control character's "\u0001").
func TestCSVProfileCompact(t *testing.T) {
	reg, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := reg.Get("csv_profile")
	for _, tc := range []struct {
		name    string
		content []byte
	}{
		{"wide header, tiny rows", wideTinyCSV(5000)},
		{"rows of empty fields", []byte("a,b,c\n" + strings.Repeat(",,\n", 5000))},
		{"control characters", []byte("a\n" + strings.Repeat("\""+strings.Repeat("\x01", 100)+"\"\n", 500))},
		{"invalid UTF-8", []byte("a,b\n" + strings.Repeat("\xff\xfe,\xff\n", 2000))},
		{"numbers that grow", []byte("a,b\n" + strings.Repeat("1e20,9e20\n", 2000))},
		{"one empty quoted field a row", []byte(strings.Repeat("\"\"\n", 5000))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, outs, _ := fileInput(tc.content, `{"header":true}`)
			if _, err := p.Run(context.Background(), in); err != nil {
				t.Fatal(err)
			}
			body := outs.get(t, "rows.jsonl").body
			ratio := float64(len(body)) / float64(len(tc.content))
			t.Logf("%d bytes of CSV, %d of rows.jsonl (%.2f×)", len(tc.content), len(body), ratio)
			if ratio > 6 {
				t.Fatalf("rows.jsonl is %.1f times the CSV", ratio)
			}
		})
	}
}

// TestCSVProfileOutputBudget: past the job's output budget the run fails
// with the typed error, and storage receives no byte past the budget.
func TestCSVProfileOutputBudget(t *testing.T) {
	reg, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := reg.Get("csv_profile")
	content := wideTinyCSV(5000)

	// Within the default budget: the job succeeds.
	in, outs, _ := fileInput(content, `{}`)
	if _, err := p.Run(context.Background(), in); err != nil {
		t.Fatalf("default budget: %v", err)
	}
	full := int64(len(outs.get(t, "rows.jsonl").body))

	for _, limit := range []int64{1, 8 << 10, full - 1} {
		t.Run(byteSize(limit), func(t *testing.T) {
			in, _, _ := fileInput(content, `{}`)
			in.MaxOutputBytes = limit
			var stored atomic.Int64
			in.Put = func(_ context.Context, _, _ string, body io.Reader) (int64, error) {
				n, err := io.Copy(io.Discard, body)
				stored.Add(n)
				return n, err
			}
			_, err := p.Run(context.Background(), in)
			var de *domain.Error
			if !errors.Is(err, ErrOutputTooLarge) || !errors.As(err, &de) || de.Code != domain.CodeTooLarge ||
				!strings.Contains(de.Message, byteSize(limit)) {
				t.Fatalf("err = %v, want ErrOutputTooLarge naming %s", err, byteSize(limit))
			}
			if n := stored.Load(); n > limit {
				t.Fatalf("storage received %d bytes, over the budget of %d", n, limit)
			}
		})
	}

	// Exactly the budget is within it.
	in, _, _ = fileInput(content, `{}`)
	in.MaxOutputBytes = full
	if _, err := p.Run(context.Background(), in); err != nil {
		t.Fatalf("budget of exactly the output: %v", err)
	}
}
