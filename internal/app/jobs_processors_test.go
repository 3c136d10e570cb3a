package app_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestCSVProfile: csv_profile types each column, counts nulls and
// distinct values, finds min and max, and stores the rows normalised as
// JSON lines.
func TestCSVProfile(t *testing.T) {
	e := setup(t)
	jc := newJobsClient(t, e, "csv-admin", "CSV")
	csv := "id,name,score,active,day\n" +
		"1,ann,3.5,true,2026-01-02\n" +
		"2,,4,false,2026-01-01\n" +
		"3,bob,-1.25,TRUE,\n" +
		"3,cy,10,false,2026-03-04\n"
	file := jc.upload("people.csv", []byte(csv))
	j := jc.wait(jc.createJob(file, "csv_profile", "").ID, time.Minute, final)
	if j.Status != "succeeded" {
		t.Fatalf("csv_profile = %+v (error %+v)", j, j.Error)
	}
	if j.Result["rows"] != float64(4) {
		t.Fatalf("rows = %v", j.Result["rows"])
	}
	cols, _ := j.Result["columns"].([]any)
	if len(cols) != 5 {
		t.Fatalf("columns = %v", j.Result["columns"])
	}
	want := []struct {
		name, typ string
		nulls     float64
		min, max  any
		distinct  float64
	}{
		{"id", "integer", 0, float64(1), float64(3), 3},
		{"name", "string", 1, "ann", "cy", 3},
		{"score", "number", 0, -1.25, float64(10), 4},
		{"active", "boolean", 0, false, true, 2},
		{"day", "date", 1, "2026-01-01", "2026-03-04", 3},
	}
	for i, w := range want {
		c, _ := cols[i].(map[string]any)
		if c["name"] != w.name || c["type"] != w.typ || c["null_count"] != w.nulls || c["min"] != w.min || c["max"] != w.max || c["distinct"] != w.distinct {
			t.Errorf("column %d = %v, want %+v", i, c, w)
		}
	}
	outs := jc.outputs(j.ID)
	if len(outs) != 1 || outs[0].Name != "rows.jsonl" {
		t.Fatalf("outputs = %+v", outs)
	}
	lines := strings.Split(strings.TrimSpace(string(jc.output(j.ID, "rows.jsonl"))), "\n")
	if len(lines) != 5 { // the columns, then the 4 rows
		t.Fatalf("rows.jsonl has %d lines", len(lines))
	}
	if want := `{"columns":[{"name":"id","type":"integer"},{"name":"name","type":"string"},{"name":"score","type":"number"},` +
		`{"name":"active","type":"boolean"},{"name":"day","type":"date"}]}`; lines[0] != want {
		t.Fatalf("rows.jsonl's first line = %s, want %s", lines[0], want)
	}
	var row []any
	if err := json.Unmarshal([]byte(lines[2]), &row); err != nil {
		t.Fatal(err)
	}
	if len(row) != 5 || row[0] != float64(2) || row[1] != nil || row[2] != float64(4) || row[3] != false || row[4] != "2026-01-01" {
		t.Fatalf("row 2 normalised = %v", row)
	}
	// A broken CSV fails with a typed, non-retryable error naming the line.
	bad := jc.upload("broken.csv", []byte("a,b\n1,\"unterminated\n"))
	j = jc.wait(jc.createJob(bad, "csv_profile", "").ID, time.Minute, final)
	if j.Status != "failed" || j.Error == nil || j.Error.Code != "invalid_input" || j.Error.Retryable || !strings.Contains(j.Error.Message, "line") {
		t.Fatalf("broken csv = %+v (error %+v)", j, j.Error)
	}
	// Params are checked against the published schema before queueing.
	r, b := jc.send("POST", "/teams/"+jc.team+"/jobs", "application/json",
		[]byte(`{"processor":"csv_profile","file_id":"`+file+`","params":{"delimiter":";;"}}`), nil)
	if r.StatusCode != 422 || !strings.Contains(string(b), "/params/delimiter") {
		t.Fatalf("bad params: %d %s", r.StatusCode, b)
	}
}

// TestExport: export (no file) writes the team's files and jobs as CSV and
// JSON lines outputs, with spreadsheet formulas defused.
func TestExport(t *testing.T) {
	e := setup(t)
	jc := newJobsClient(t, e, "export-admin", "Export")
	jc.upload("=HYPERLINK(evil).txt", []byte("formula in the name"))
	png := jc.upload("dot.png", tinyPNG(t, 2, 2))
	jc.wait(jc.createJob(png, "inspect", "").ID, time.Minute, final)
	if r, b := jc.send("POST", "/teams/"+jc.team+"/jobs", "application/json",
		[]byte(`{"processor":"export","file_id":"`+png+`"}`), nil); r.StatusCode != 422 {
		t.Fatalf("export with a file: %d %s", r.StatusCode, b)
	}
	j := jc.wait(jc.createJob("", "export", "").ID, time.Minute, final)
	if j.Status != "succeeded" || j.Result["files"] != float64(2) {
		t.Fatalf("export = %+v (error %+v)", j, j.Error)
	}
	names := map[string]bool{}
	for _, o := range jc.outputs(j.ID) {
		names[o.Name] = true
	}
	for _, n := range []string{"files.csv", "files.jsonl", "jobs.csv", "jobs.jsonl"} {
		if !names[n] {
			t.Fatalf("outputs %v lack %s", names, n)
		}
	}
	filesCSV := string(jc.output(j.ID, "files.csv"))
	if !strings.HasPrefix(filesCSV, "id,name,size,sha256,content_type,created_at,created_by") ||
		!strings.Contains(filesCSV, "dot.png") || !strings.Contains(filesCSV, "'=HYPERLINK(evil).txt") {
		t.Fatalf("files.csv = %s", filesCSV)
	}
	jobsJSONL := strings.TrimSpace(string(jc.output(j.ID, "jobs.jsonl")))
	if n := len(strings.Split(jobsJSONL, "\n")); n != 2 || !strings.Contains(jobsJSONL, `"inspect"`) {
		t.Fatalf("jobs.jsonl (%d lines) = %s", n, jobsJSONL)
	}
}
