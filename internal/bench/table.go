package bench

import (
	"fmt"
	"io"
	"strings"
)

// Row is one line of the table: a measure, Conveyor's figure, the
// baseline's figure from the same run, their ratio, the goal and whether it
// was met. Figures are numbers with a unit; a row with no baseline has
// Baseline < 0; a row with no goal has Goal "" and is neither pass nor fail.
type Row struct {
	Group    string // one of Groups, set by Run
	Measure  string
	Unit     string
	Conveyor float64
	Baseline float64 // < 0: none
	Goal     string
	// Pass is nil for a row without a goal.
	Pass *bool
	Note string
	// ZeroOK says 0 is a real figure (a count that may be zero);
	// otherwise 0 means the row produced none.
	ZeroOK bool
	// Failed says the row's group failed: it has no figure.
	Failed bool
}

// HasNumber reports whether the row produced a figure.
func (r Row) HasNumber() bool { return !r.Failed && (r.Conveyor > 0 || r.ZeroOK) }

// Ratio is Conveyor / baseline, or 0 without a baseline.
func (r Row) Ratio() float64 {
	if r.Baseline <= 0 {
		return 0
	}
	return r.Conveyor / r.Baseline
}

func verdict(ok bool) *bool { return &ok }

// Table is the benchmark's output: its rows in order, and section headings.
type Table struct {
	Rows []Row
}

// Add appends rows.
func (t *Table) Add(rows ...Row) { t.Rows = append(t.Rows, rows...) }

// Print writes the table as Markdown.
func (t *Table) Print(w io.Writer) {
	cells := [][]string{{"measure", "Conveyor", "baseline (same run)", "ratio", "goal", "pass/fail"}}
	var notes []string
	for _, r := range t.Rows {
		base, ratio := "—", "—"
		if r.Baseline >= 0 {
			base = num(r.Baseline, r.Unit)
			if r.Baseline > 0 {
				ratio = fmt.Sprintf("%.2f×", r.Ratio())
			}
		}
		res := ""
		if r.Pass != nil {
			res = "FAIL"
			if *r.Pass {
				res = "pass"
			}
		}
		if !r.HasNumber() {
			res = "no figure"
		}
		measure := r.Measure
		if r.Note != "" {
			notes = append(notes, r.Note)
			measure += fmt.Sprintf(" [%d]", len(notes))
		}
		goal := r.Goal
		if goal == "" {
			goal = "—"
		}
		conv := num(r.Conveyor, r.Unit)
		if !r.HasNumber() {
			conv = "—"
		}
		cells = append(cells, []string{measure, conv, base, ratio, goal, res})
	}
	width := make([]int, len(cells[0]))
	for _, row := range cells {
		for i, c := range row {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for i, row := range cells {
		var b strings.Builder
		b.WriteString("|")
		for j, c := range row {
			b.WriteString(" " + c + strings.Repeat(" ", width[j]-len([]rune(c))) + " |")
		}
		fmt.Fprintln(w, b.String())
		if i == 0 {
			b.Reset()
			b.WriteString("|")
			for j := range row {
				b.WriteString(strings.Repeat("-", width[j]+2) + "|")
			}
			fmt.Fprintln(w, b.String())
		}
	}
	for i, n := range notes {
		fmt.Fprintf(w, "[%d] %s\n", i+1, n)
	}
}

func num(v float64, unit string) string {
	var s string
	switch {
	case v == 0, unit == "rows":
		s = fmt.Sprintf("%.0f", v)
	case v >= 100:
		s = fmt.Sprintf("%.0f", v)
	case v >= 10:
		s = fmt.Sprintf("%.1f", v)
	default:
		s = fmt.Sprintf("%.2f", v)
	}
	if unit != "" {
		s += " " + unit
	}
	return s
}
