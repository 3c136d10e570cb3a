package processors

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// memSource is a Source over slices, oldest first, paged like the store.
type memSource struct {
	files []domain.File
	jobs  []domain.Job

	mu    sync.Mutex
	calls int
	limit int // the largest page asked for
	err   error
	stuck bool // return the same page again and again
}

func page[T any](s *memSource, items []T, team uuid.UUID, teamOf, idOf func(T) uuid.UUID, req domain.PageRequest) (domain.Page[T], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	s.limit = max(s.limit, req.Limit)
	if s.err != nil {
		return domain.Page[T]{}, s.err
	}
	var mine []T
	for _, it := range items {
		if teamOf(it) == team {
			mine = append(mine, it)
		}
	}
	start := 0
	if req.After != nil && !s.stuck {
		for i, it := range mine {
			if idOf(it) == *req.After {
				start = i + 1
			}
		}
	}
	end := min(len(mine), start+req.Limit+1)
	return domain.NewPage(mine[start:end], req.Limit, idOf), nil
}

func (s *memSource) Files(_ context.Context, team uuid.UUID, req domain.PageRequest) (domain.Page[domain.File], error) {
	return page(s, s.files, team, func(f domain.File) uuid.UUID { return f.TeamID }, func(f domain.File) uuid.UUID { return f.ID }, req)
}

func (s *memSource) Jobs(_ context.Context, team uuid.UUID, req domain.PageRequest) (domain.Page[domain.Job], error) {
	return page(s, s.jobs, team, func(j domain.Job) uuid.UUID { return j.TeamID }, func(j domain.Job) uuid.UUID { return j.ID }, req)
}

var exportEpoch = time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.FixedZone("CET", 3600))

// teamData makes nFiles files and as many jobs for team, and some of
// another team's.
func teamData(team uuid.UUID, nFiles int) *memSource {
	other := uuid.New()
	user := uuid.MustParse("0192f3a0-0000-7000-8000-0000000000aa")
	names := []string{"=HYPERLINK(\"http://evil\")", "+1", "-2", "@SUM(A1)", "\tlead", "\rcr", "plain, with \"quotes\"\nand a newline", "ok.png"}
	s := &memSource{}
	for i := range nFiles {
		f := domain.File{ID: uuid.New(), TeamID: team, Name: names[i%len(names)], Size: int64(i), SHA256: fmt.Sprintf("%064x", i),
			ContentType: "image/png", CreatedAt: exportEpoch.Add(time.Duration(i) * time.Second)}
		if i%2 == 0 {
			f.CreatedBy = &user
		}
		s.files = append(s.files, f)
		j := domain.Job{ID: uuid.New(), TeamID: team, Processor: "thumbnail", Status: domain.JobQueued, CreatedAt: f.CreatedAt}
		if i%3 == 0 {
			fin := f.CreatedAt.Add(time.Minute)
			j.FileID, j.Status, j.Progress, j.Attempts, j.FinishedAt = &f.ID, domain.JobFailed, 40, 3, &fin
			j.Error = &domain.JobError{Code: "invalid_input", Message: "no"}
		}
		s.jobs = append(s.jobs, j)
		if i%10 == 0 {
			s.files = append(s.files, domain.File{ID: uuid.New(), TeamID: other, Name: "secret"})
			s.jobs = append(s.jobs, domain.Job{ID: uuid.New(), TeamID: other, Processor: "secret"})
		}
	}
	return s
}

func runExport(t *testing.T, src Source, team uuid.UUID, params string) (Output, *memOutputs, *progressLog, error) {
	t.Helper()
	outs, prog := &memOutputs{}, &progressLog{}
	in := Input{Job: domain.Job{ID: uuid.New(), TeamID: team, Processor: "export"}, Params: json.RawMessage(params),
		Source: src, Put: outs.put, Progress: prog.report}
	out, err := Export{}.Run(context.Background(), in)
	return out, outs, prog, err
}

func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(b))
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("output is not CSV: %v", err)
	}
	return rows
}

func readJSONL(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("output is not JSON lines: %v", err)
		}
		out = append(out, m)
	}
}

func TestExport(t *testing.T) {
	team := uuid.New()
	src := teamData(team, 250) // three pages
	out, outs, prog, err := runExport(t, src, team, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Result) != `{"files":250,"jobs":250}` {
		t.Fatalf("result %s", out.Result)
	}
	if src.limit != exportPage {
		t.Fatalf("pages of %d, want %d", src.limit, exportPage)
	}
	prog.check(t, 50)

	// files.csv: a header, every file in order, formulas defused.
	fc := outs.get(t, "files.csv")
	if fc.contentType != "text/csv; charset=utf-8" {
		t.Fatalf("files.csv is %s", fc.contentType)
	}
	rows := readCSV(t, fc.body)
	if !reflect.DeepEqual(rows[0], exportFileColumns) || len(rows) != 251 {
		t.Fatalf("files.csv header %q, %d rows", rows[0], len(rows))
	}
	want := []string{"'=HYPERLINK(\"http://evil\")", "'+1", "'-2", "'@SUM(A1)", "'\tlead", "'\rcr", "plain, with \"quotes\"\nand a newline", "ok.png"}
	first := src.files[0]
	if got := rows[1]; !reflect.DeepEqual(got, []string{first.ID.String(), want[0], "0", first.SHA256, "image/png", "2026-01-02T02:04:05.6Z", "0192f3a0-0000-7000-8000-0000000000aa"}) {
		t.Fatalf("first file row %q", got)
	}
	for i := 1; i <= 8; i++ {
		if rows[i][1] != want[i-1] {
			t.Errorf("name cell %d = %q, want %q", i, rows[i][1], want[i-1])
		}
	}
	if rows[2][6] != "" {
		t.Fatalf("created_by of a file without creator = %q", rows[2][6])
	}
	for _, r := range rows[1:] {
		if r[1] == "secret" {
			t.Fatal("another team's file exported")
		}
	}

	// files.jsonl: the same files, values as they are.
	fj := outs.get(t, "files.jsonl")
	if fj.contentType != "application/x-ndjson" {
		t.Fatalf("files.jsonl is %s", fj.contentType)
	}
	objs := readJSONL(t, fj.body)
	if len(objs) != 250 || objs[0]["name"] != src.files[0].Name || objs[1]["created_by"] != nil || objs[249]["size"] != 249.0 {
		t.Fatalf("files.jsonl: %d lines, first %v", len(objs), objs[0])
	}
	if line := strings.SplitN(string(fj.body), "\n", 2)[0]; !strings.HasPrefix(line, `{"id":"`+first.ID.String()+`","name":"=HYPERLINK(\"http://evil\")","size":0,`) ||
		!strings.Contains(line, `"created_at":"2026-01-02T02:04:05.6Z"`) {
		t.Fatalf("first files.jsonl line %s", line)
	}

	// jobs.csv and jobs.jsonl.
	jrows := readCSV(t, outs.get(t, "jobs.csv").body)
	if !reflect.DeepEqual(jrows[0], exportJobColumns) || len(jrows) != 251 {
		t.Fatalf("jobs.csv header %q, %d rows", jrows[0], len(jrows))
	}
	j0 := src.jobs[0]
	if got := jrows[1]; !reflect.DeepEqual(got, []string{j0.ID.String(), first.ID.String(), "thumbnail", "failed", "40", "3", "2026-01-02T02:04:05.6Z", "2026-01-02T02:05:05.6Z", "invalid_input"}) {
		t.Fatalf("first job row %q", got)
	}
	if got := jrows[2]; got[1] != "" || got[3] != "queued" || got[7] != "" || got[8] != "" {
		t.Fatalf("second job row %q", got)
	}
	jobs := readJSONL(t, outs.get(t, "jobs.jsonl").body)
	if len(jobs) != 250 || jobs[0]["error_code"] != "invalid_input" || jobs[1]["error_code"] != nil || jobs[1]["file_id"] != nil || jobs[1]["finished_at"] != nil {
		t.Fatalf("jobs.jsonl: %d lines, %v, %v", len(jobs), jobs[0], jobs[1])
	}
	if len(outs.files) != 4 {
		t.Fatalf("outputs %v", outs.names())
	}
}

func TestExportInclude(t *testing.T) {
	team := uuid.New()
	src := teamData(team, 5)
	out, outs, _, err := runExport(t, src, team, `{"include":["jobs"]}`)
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Result) != `{"jobs":5}` {
		t.Fatalf("result %s", out.Result)
	}
	if names := outs.names(); len(names) != 2 || outs.files["jobs.csv"].body == nil || outs.files["jobs.jsonl"].body == nil {
		t.Fatalf("outputs %v", names)
	}

	// An empty team exports headers and nothing else.
	out, outs, _, err = runExport(t, &memSource{}, team, `{"include":["files"]}`)
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Result) != `{"files":0}` || string(outs.get(t, "files.csv").body) != strings.Join(exportFileColumns, ",")+"\n" || len(outs.get(t, "files.jsonl").body) != 0 {
		t.Fatalf("result %s, files.csv %q", out.Result, outs.get(t, "files.csv").body)
	}

	for _, p := range []string{`{"include":[]}`, `{"include":["teams"]}`, `{"other":1}`} {
		_, _, _, err := runExport(t, src, team, p)
		wantInvalid(t, err, "params")
	}
}

func TestExportFailures(t *testing.T) {
	team := uuid.New()

	// The store fails: retryable, and its code is kept.
	src := teamData(team, 5)
	src.err = &domain.Error{Code: domain.CodeUnavailable, Message: "The database is unavailable."}
	_, _, _, err := runExport(t, src, team, `{}`)
	if domain.ErrorCode(err) != domain.CodeUnavailable {
		t.Fatalf("err = %v, want unavailable", err)
	}
	src.err = errors.New("connection refused")
	_, _, _, err = runExport(t, src, team, `{}`)
	wantRetryable(t, err)

	// A source that does not advance is an error, not a loop.
	src = teamData(team, 250)
	src.stuck = true
	_, _, _, err = runExport(t, src, team, `{}`)
	if err == nil || !strings.Contains(err.Error(), "did not advance") || src.calls > 3 {
		t.Fatalf("err = %v after %d calls", err, src.calls)
	}

	// Storing an output fails.
	src = teamData(team, 250)
	outs := &memOutputs{fail: "files.jsonl"}
	in := Input{Job: domain.Job{TeamID: team}, Source: src, Put: outs.put}
	_, err = Export{}.Run(context.Background(), in)
	if err == nil || !strings.Contains(err.Error(), "s3 is down") {
		t.Fatalf("err = %v, want the Put's", err)
	}

	// No source, no store.
	_, err = Export{}.Run(context.Background(), Input{Job: domain.Job{TeamID: team}, Put: outs.put})
	wantRetryable(t, err)
	_, err = Export{}.Run(context.Background(), Input{Job: domain.Job{TeamID: team}, Source: src})
	wantRetryable(t, err)
}

func TestCSVCell(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "a": "a", "=1+2": "'=1+2", "+1": "'+1", "-1": "'-1", "@x": "'@x", "\tx": "'\tx", "\rx": "'\rx",
		" =x": " =x", "a=b": "a=b", "'=x": "'=x",
	} {
		if got := csvCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
}
