package chaos

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Grace is how long after a piece is back its outage still explains a
// 503: pools reconnect and breakers close within it.
const Grace = 3 * time.Second

// KeyRelease is how long after the primary is back an Idempotency-Key
// whose request the outage cut short may still be held (its release is
// retried with a backoff up to 5 s).
const KeyRelease = 10 * time.Second

// Report is what a run found.
type Report struct {
	Clients  int
	Duration time.Duration
	Elapsed  time.Duration

	UploadsAccepted, UploadsIntact int
	JobsAccepted, JobsSucceeded    int
	JobsInDB, FilesInDB            int
	DuplicatedEffects              int
	Subscribers, EventsLogged      int
	EventsReceived, EventsMissed   int
	Resumes, Reconnects, Resets    int
	Repeats, SilentStreams         int
	SettleJobs                     time.Duration
	calls                          []*call
	faults                         []window
	lost, duplicated, missed       []string
	streamErrors, setupErrors      []string
	checkErrors                    []string
	stopSubs                       func()
	subsDone                       func()
}

// failure is an attempt that failed, with how its call ended.
type failure struct {
	a         attempt
	call      *call
	explained string // the fault that explains it, or ""
	retried   bool   // the SDK sent the request again
}

// failures lists every failed attempt and whether a fault explains it.
func (rep *Report) failures() []failure {
	var out []failure
	for _, c := range rep.calls {
		c.mu.Lock()
		for i, a := range c.attempts {
			if !a.failed() {
				continue
			}
			out = append(out, failure{a: a, call: c, explained: rep.explain(a), retried: i < len(c.attempts)-1})
		}
		c.mu.Unlock()
	}
	return out
}

// explain names the fault that allows a's failure: a 503 with Retry-After
// while the primary or S3 was down (or within Grace after), a 502/503 or
// a broken connection in flight on an API process when it was killed, and
// anything from storage itself while it was down.
func (rep *Report) explain(a attempt) string {
	storage := strings.HasSuffix(a.op, "(storage)")
	for _, w := range rep.faults {
		if w.err != "" {
			continue
		}
		during := !a.end.Before(w.start) && !a.start.After(w.end.Add(Grace))
		switch w.kind {
		case faultPrimary, faultS3:
			if during && a.status == 503 && a.retryAfter {
				return w.kind
			}
			// A request the outage cut short could not free its
			// Idempotency-Key until the database was back: its retry is
			// told to come back (409, Retry-After) for a few seconds more.
			held := !a.end.Before(w.start) && !a.start.After(w.end.Add(KeyRelease))
			if held && a.status == 409 && a.retryAfter && w.kind == faultPrimary {
				return w.kind + " (key still held)"
			}
			if during && storage && w.kind == faultS3 {
				return w.kind
			}
		case faultRedis:
			// The event stream is served from Redis: while it restarts a
			// subscription is refused with 503 and Retry-After.
			if during && a.status == 503 && a.retryAfter && a.op == "streamTeamEvents" {
				return w.kind
			}
		case faultKillAPI:
			inFlight := !a.start.After(w.end) && !a.end.Before(w.start)
			if inFlight && (a.status == 502 || a.status == 503 || a.status == 0) && !storage {
				return w.kind
			}
		}
	}
	return ""
}

// Violations lists the goals the run missed; none means it passed.
func (rep *Report) Violations() []string {
	var v []string
	if n := rep.UploadsAccepted - rep.UploadsIntact; n > 0 {
		v = append(v, fmt.Sprintf("%d lost uploads", n))
	}
	if n := rep.JobsAccepted - rep.JobsSucceeded; n > 0 {
		v = append(v, fmt.Sprintf("%d lost jobs (accepted, not succeeded)", n))
	}
	if rep.DuplicatedEffects > 0 {
		v = append(v, fmt.Sprintf("%d duplicated effects", rep.DuplicatedEffects))
	}
	if rep.EventsMissed > 0 {
		v = append(v, fmt.Sprintf("%d events missed by resumed streams", rep.EventsMissed))
	}
	unexplained, unrecovered := 0, 0
	for _, f := range rep.failures() {
		if f.explained == "" {
			unexplained++
		}
		if !f.call.ok {
			unrecovered++
		}
	}
	if unexplained > 0 {
		v = append(v, fmt.Sprintf("%d failures (5xx or broken connections) no fault explains", unexplained))
	}
	if unrecovered > 0 {
		v = append(v, fmt.Sprintf("%d failures a client saw that its SDK's retry did not make good", unrecovered))
	}
	for _, w := range rep.faults {
		if w.err != "" && !strings.HasPrefix(w.err, "not injected") {
			v = append(v, fmt.Sprintf("fault %q failed: %s", w.kind, w.err))
		}
	}
	for _, e := range slices.Concat(rep.setupErrors, rep.checkErrors) {
		v = append(v, "run: "+e)
	}
	return v
}

// Print writes the report.
func (rep *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "chaos: %d clients for %s (%s in all, jobs settled in %s)\n\n", rep.Clients, rep.Duration, rep.Elapsed.Round(time.Second), rep.SettleJobs.Round(100*time.Millisecond))
	fmt.Fprintln(w, "faults:")
	for _, f := range rep.faults {
		d := f.end.Sub(f.start).Round(100 * time.Millisecond)
		fmt.Fprintf(w, "  %-24s at %5.1fs for %-7s %s\n", f.kind, f.start.Sub(rep.start()).Seconds(), d, f.err)
	}
	rep.printRequests(w)
	fmt.Fprintf(w, "\nuploads: %d accepted, %d download with the same SHA-256\n", rep.UploadsAccepted, rep.UploadsIntact)
	fmt.Fprintf(w, "jobs: %d accepted, %d succeeded; duplicated effects: %d (jobs in db %d, files in db %d)\n",
		rep.JobsAccepted, rep.JobsSucceeded, rep.DuplicatedEffects, rep.JobsInDB, rep.FilesInDB)
	fmt.Fprintf(w, "events: %d streams, %d events logged, %d received (%d repeats), %d missed; %d resumes with Last-Event-ID, %d SDK reconnects, %d resets, %d streams saw nothing\n",
		rep.Subscribers, rep.EventsLogged, rep.EventsReceived, rep.Repeats, rep.EventsMissed, rep.Resumes, rep.Reconnects, rep.Resets, rep.SilentStreams)
	for _, l := range slices.Concat(rep.lost, rep.duplicated, rep.missed) {
		fmt.Fprintln(w, "  "+l)
	}
	rep.printFailures(w)
	if errs := uniq(rep.streamErrors); len(errs) > 0 {
		fmt.Fprintln(w, "\nstream errors (the subscriber reopened):")
		for _, e := range errs {
			fmt.Fprintln(w, "  "+e)
		}
	}
	if v := rep.Violations(); len(v) > 0 {
		fmt.Fprintln(w, "\nGOALS MISSED:")
		for _, s := range v {
			fmt.Fprintln(w, "  - "+s)
		}
	} else {
		fmt.Fprintln(w, "\ngoals met: 0 lost uploads, 0 lost jobs, 0 duplicated effects, 0 missed events, every 5xx explained by a fault, every failure made good by the SDK's retry")
	}
}

func (rep *Report) start() time.Time {
	var t time.Time
	for _, c := range rep.calls {
		if len(c.attempts) > 0 && (t.IsZero() || c.attempts[0].start.Before(t)) {
			t = c.attempts[0].start
		}
	}
	return t
}

var classes = []string{"2xx", "3xx", "4xx", "5xx", "err"}

func class(status int) string {
	if status == 0 {
		return "err"
	}
	return fmt.Sprintf("%dxx", status/100)
}

func (rep *Report) printRequests(w io.Writer) {
	counts := map[string]map[string]int{}
	lat := map[string][]time.Duration{}
	for _, c := range rep.calls {
		c.mu.Lock()
		for _, a := range c.attempts {
			if counts[a.op] == nil {
				counts[a.op] = map[string]int{}
			}
			counts[a.op][class(a.status)]++
			lat[a.op] = append(lat[a.op], a.end.Sub(a.start))
		}
		c.mu.Unlock()
	}
	ops := make([]string, 0, len(counts))
	for op := range counts {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	fmt.Fprintln(w, "\nrequests (each attempt; latency to the answer's headers):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\t2xx\t3xx\t4xx\t5xx\terr\tp50\tp99\t")
	for _, op := range ops {
		l := lat[op]
		slices.Sort(l)
		fmt.Fprintf(tw, "%s\t", op)
		for _, cl := range classes {
			fmt.Fprintf(tw, "%d\t", counts[op][cl])
		}
		fmt.Fprintf(tw, "%s\t%s\t\n", pct(l, 50), pct(l, 99))
	}
	_ = tw.Flush()
}

func pct(sorted []time.Duration, p int) string {
	if len(sorted) == 0 {
		return "-"
	}
	d := sorted[min(len(sorted)-1, len(sorted)*p/100)]
	return d.Round(time.Millisecond / 10).String()
}

// printFailures lists every failure a client saw, grouped by operation,
// answer and the fault that explains it, with how many the SDK's retry
// made good.
func (rep *Report) printFailures(w io.Writer) {
	type key struct{ op, what, explained string }
	type tally struct{ n, retried, recovered int }
	groups := map[key]*tally{}
	var keys []key
	for _, f := range rep.failures() {
		var what string
		if f.a.status != 0 {
			what = fmt.Sprint(f.a.status)
			if f.a.retryAfter {
				what += " Retry-After"
			}
		} else {
			what = "no answer: " + shorten(f.a.err)
		}
		k := key{f.a.op, what, f.explained}
		if groups[k] == nil {
			groups[k] = &tally{}
			keys = append(keys, k)
		}
		g := groups[k]
		g.n++
		if f.retried {
			g.retried++
		}
		if f.call.ok {
			g.recovered++
		}
	}
	sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
	fmt.Fprintf(w, "\nfailures clients saw (5xx, no answer, 409/429 with Retry-After): %d kinds\n", len(keys))
	for _, k := range keys {
		g := groups[k]
		why := k.explained
		if why == "" {
			why = "NO FAULT EXPLAINS IT"
		}
		fmt.Fprintf(w, "  %-28s %-40s x%-4d retried %-4d made good %-4d (%s)\n", k.op, k.what, g.n, g.retried, g.recovered, why)
	}
	var finals []string
	for _, c := range rep.calls {
		if !c.ok {
			finals = append(finals, c.op+": "+shorten(c.err))
		}
	}
	if finals = uniq(finals); len(finals) > 0 {
		fmt.Fprintln(w, "calls that failed in the end:")
		for _, f := range finals {
			fmt.Fprintln(w, "  "+f)
		}
	}
}

// shorten drops request-specific parts (addresses, ids) from an error.
func shorten(s string) string {
	if i := strings.Index(s, " (request "); i >= 0 {
		s = s[:i]
	}
	s = quoted.ReplaceAllString(s, `"…"`)
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

var quoted = regexp.MustCompile(`"[^"]*"`)

// uniq counts repeated lines: "line (xN)".
func uniq(lines []string) []string {
	n := map[string]int{}
	var order []string
	for _, l := range lines {
		if n[l] == 0 {
			order = append(order, l)
		}
		n[l]++
	}
	out := make([]string, 0, len(order))
	for _, l := range order {
		if n[l] > 1 {
			l = fmt.Sprintf("%s (x%d)", l, n[l])
		}
		out = append(out, l)
	}
	return out
}
