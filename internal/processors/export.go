package processors

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// Export writes the team's files and jobs, as CSV and as JSON lines, to
// the outputs files.csv, files.jsonl, jobs.csv and jobs.jsonl. It pages
// through the team and streams each page out, so memory does not grow
// with the team.
type Export struct{}

// ExportResult is Export's result: how many of each kind were exported;
// a kind not included is absent.
type ExportResult struct {
	Files *int64 `json:"files,omitempty"`
	Jobs  *int64 `json:"jobs,omitempty"`
}

type exportParams struct {
	Include []string `json:"include"`
}

const exportPage = 100

func (Export) Name() string { return "export" }

func (Export) Description() string {
	return "Exports the team's files and jobs as CSV and JSON lines (outputs files.csv, files.jsonl, jobs.csv, jobs.jsonl). " +
		"CSV cells that a spreadsheet would run as a formula (starting with =, +, -, @, tab or carriage return) are prefixed with an apostrophe; the JSON lines hold the values as they are."
}

func (Export) NeedsFile() bool { return false }

// Priority implements Processor: nobody waits on an export.
func (Export) Priority() Priority { return PriorityLow }

// Timeout implements Processor.
func (Export) Timeout() time.Duration { return 10 * time.Minute }

func (Export) ParamsSchema() string {
	return `{"type":"object","additionalProperties":false,"properties":{` +
		`"include":{"type":"array","items":{"type":"string","enum":["files","jobs"]},"minItems":1,"uniqueItems":true,"default":["files","jobs"],` +
		`"description":"What to export."}}}`
}

var (
	exportFileColumns = []string{"id", "name", "size", "sha256", "content_type", "created_at", "created_by"}
	exportJobColumns  = []string{"id", "file_id", "processor", "status", "progress", "attempts", "created_at", "finished_at", "error_code"}
)

// Run implements Processor.
func (Export) Run(ctx context.Context, in Input) (Output, error) {
	p := exportParams{Include: []string{"files", "jobs"}}
	if err := decodeParams(in.Params, &p); err != nil {
		return Output{}, err
	}
	var files, jobs bool
	for _, k := range p.Include {
		switch k {
		case "files":
			files = true
		case "jobs":
			jobs = true
		default:
			return Output{}, paramsf("include may hold files and jobs, not %q.", k)
		}
	}
	if !files && !jobs {
		return Output{}, paramsf("include must name files, jobs or both.")
	}
	if in.Source == nil {
		return Output{}, errors.New("export: no source")
	}
	progress := in.Progress
	if progress == nil {
		progress = func(int) {}
	}
	team := in.Job.TeamID
	var res ExportResult
	if files {
		n, err := exportKind(ctx, in.Put, "files", exportFileColumns, func(ctx context.Context, page domain.PageRequest, each func(row []string, obj any) error) (*uuid.UUID, error) {
			pg, err := in.Source.Files(ctx, team, page)
			if err != nil {
				return nil, err
			}
			for _, f := range pg.Items {
				if err := each(fileRow(f)); err != nil {
					return nil, err
				}
			}
			return pg.Next, nil
		})
		if err != nil {
			return Output{}, err
		}
		res.Files = &n
		if jobs {
			progress(50)
		}
	}
	if jobs {
		n, err := exportKind(ctx, in.Put, "jobs", exportJobColumns, func(ctx context.Context, page domain.PageRequest, each func(row []string, obj any) error) (*uuid.UUID, error) {
			pg, err := in.Source.Jobs(ctx, team, page)
			if err != nil {
				return nil, err
			}
			for _, j := range pg.Items {
				if err := each(jobRow(j)); err != nil {
					return nil, err
				}
			}
			return pg.Next, nil
		})
		if err != nil {
			return Output{}, err
		}
		res.Jobs = &n
	}
	progress(100)
	b, err := json.Marshal(res)
	return Output{Result: b}, err
}

// exportKind writes <kind>.csv and <kind>.jsonl from one walk over the
// pages that page returns (it hands each item to each, and returns the id
// to continue after), and returns how many items there were.
func exportKind(ctx context.Context, put func(context.Context, string, string, io.Reader) (int64, error), kind string, columns []string,
	page func(ctx context.Context, page domain.PageRequest, each func(row []string, obj any) error) (*uuid.UUID, error)) (int64, error) {
	var n int64
	outs := []output{{kind + ".csv", "text/csv; charset=utf-8"}, {kind + ".jsonl", "application/x-ndjson"}}
	err := putStreams(ctx, put, outs, func(ws []io.Writer) error {
		cw := csv.NewWriter(ws[0])
		enc := json.NewEncoder(ws[1])
		enc.SetEscapeHTML(false)
		if err := cw.Write(columns); err != nil {
			return err
		}
		each := func(row []string, obj any) error {
			for i, cell := range row {
				row[i] = csvCell(cell)
			}
			if err := cw.Write(row); err != nil {
				return err
			}
			n++
			return enc.Encode(obj)
		}
		var after *uuid.UUID
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			next, err := page(ctx, domain.PageRequest{Limit: exportPage, After: after}, each)
			if err != nil {
				return fmt.Errorf("export: list %s: %w", kind, err)
			}
			if next == nil {
				break
			}
			if after != nil && *next == *after {
				return fmt.Errorf("export: list %s: the page after %s did not advance", kind, after)
			}
			after = next
		}
		cw.Flush()
		return cw.Error()
	})
	return n, err
}

// csvCell guards a cell against formula injection: a spreadsheet runs a
// cell starting with =, +, -, @, tab or carriage return as a formula, so
// such a cell gets a leading apostrophe (shown as text, not as a quote).
func csvCell(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 {
		return "'" + s
	}
	return s
}

type exportFile struct {
	ID          uuid.UUID  `json:"id"`
	Name        string     `json:"name"`
	Size        int64      `json:"size"`
	SHA256      string     `json:"sha256"`
	ContentType string     `json:"content_type"`
	CreatedAt   time.Time  `json:"created_at"`
	CreatedBy   *uuid.UUID `json:"created_by"`
}

type exportJob struct {
	ID         uuid.UUID  `json:"id"`
	FileID     *uuid.UUID `json:"file_id"`
	Processor  string     `json:"processor"`
	Status     string     `json:"status"`
	Progress   int        `json:"progress"`
	Attempts   int        `json:"attempts"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at"`
	ErrorCode  *string    `json:"error_code"`
}

func fileRow(f domain.File) ([]string, any) {
	obj := exportFile{ID: f.ID, Name: f.Name, Size: f.Size, SHA256: f.SHA256, ContentType: f.ContentType,
		CreatedAt: f.CreatedAt.UTC(), CreatedBy: f.CreatedBy}
	return []string{f.ID.String(), f.Name, strconv.FormatInt(f.Size, 10), f.SHA256, f.ContentType,
		exportTime(&obj.CreatedAt), exportID(f.CreatedBy)}, obj
}

func jobRow(j domain.Job) ([]string, any) {
	obj := exportJob{ID: j.ID, FileID: j.FileID, Processor: j.Processor, Status: string(j.Status),
		Progress: j.Progress, Attempts: j.Attempts, CreatedAt: j.CreatedAt.UTC()}
	if j.FinishedAt != nil {
		t := j.FinishedAt.UTC()
		obj.FinishedAt = &t
	}
	if j.Error != nil {
		obj.ErrorCode = &j.Error.Code
	}
	code := ""
	if obj.ErrorCode != nil {
		code = *obj.ErrorCode
	}
	return []string{j.ID.String(), exportID(j.FileID), j.Processor, string(j.Status), strconv.Itoa(j.Progress),
		strconv.Itoa(j.Attempts), exportTime(&obj.CreatedAt), exportTime(obj.FinishedAt), code}, obj
}

// exportTime writes t in UTC as RFC 3339; empty for nil.
func exportTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func exportID(id *uuid.UUID) string {
	if id == nil {
		return ""
	}
	return id.String()
}
