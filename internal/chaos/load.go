package chaos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/google/uuid"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
)

// run is one chaos run in progress.
type run struct {
	t     Target
	o     Options
	rec   *recorder
	rep   *Report
	began time.Time
	teams []uuid.UUID
	admin *conveyor.Client

	mu      sync.Mutex
	uploads []upload // accepted
	jobs    []acceptedJob
	subs    []*subscriber
	faults  []window
	big     chan struct{}
}

type upload struct {
	op     string
	team   uuid.UUID
	file   uuid.UUID
	size   int64
	sha256 string // of what was sent
	server string // what the API answered
}

type acceptedJob struct {
	team, job uuid.UUID
}

// retryPolicy is the virtual clients': enough retries to ride out an
// outage of the primary or S3 (Retry-After is 1 s; 20 tries at 0.5-5 s).
var retryPolicy = conveyor.RetryPolicy{MaxRetries: 20, MinWait: 500 * time.Millisecond, MaxWait: 5 * time.Second}

// sdk returns an SDK client for subject, through the recorder.
func (r *run) sdk(subject string) (*conveyor.Client, error) {
	tok, err := r.t.Token(subject, true)
	if err != nil {
		return nil, err
	}
	return conveyor.New(r.t.URL(), conveyor.WithToken(tok), conveyor.WithDoer(&http.Client{Transport: r.rec}),
		conveyor.WithRetry(retryPolicy))
}

// setup creates the teams: one per eight clients.
func (r *run) setup(ctx context.Context) error {
	u, err := url.Parse(r.t.URL())
	if err != nil {
		return err
	}
	r.rec.apiHost = u.Host
	r.big = make(chan struct{}, r.o.BigUploads)
	if r.admin, err = r.sdk("chaos-admin"); err != nil {
		return err
	}
	n := max(1, (r.o.Clients+7)/8)
	for i := range n {
		var team *conveyor.Team
		err := r.rec.do(ctx, "createTeam", func(ctx context.Context) error {
			var err error
			team, err = r.admin.CreateTeam(ctx, fmt.Sprintf("Chaos %d", i+1))
			return err
		})
		if err != nil {
			return err
		}
		r.teams = append(r.teams, team.Id)
	}
	return nil
}

// load runs the virtual clients and the fault schedule for the duration.
func (r *run) load(ctx context.Context) {
	lctx, stop := context.WithTimeout(ctx, r.o.Duration)
	defer stop()
	// Subscribers outlive the load: they stop once they caught up (settle).
	sctx, stopSubs := context.WithCancel(ctx)
	r.rep.stopSubs = stopSubs
	var wg, subs sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.schedule(lctx) }()
	for i := range r.o.Clients {
		team := r.teams[i%len(r.teams)]
		c, err := r.sdk(fmt.Sprintf("chaos-c%03d", i))
		if err != nil {
			r.rep.setupErrors = append(r.rep.setupErrors, err.Error())
			continue
		}
		if i < 2*len(r.teams) {
			// Two subscribers per team (clients 0..2*teams-1).
			s := &subscriber{team: team, got: map[string]bool{}}
			r.mu.Lock()
			r.subs = append(r.subs, s)
			r.mu.Unlock()
			subs.Add(1)
			go func() { defer subs.Done(); r.subscribe(sctx, lctx, c, s, int64(i)) }()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := &vclient{r: r, c: c, team: team, rng: rand.New(rand.NewPCG(uint64(i), 16))}
			v.loop(lctx)
		}()
	}
	wg.Wait()
	r.rep.subsDone = func() { subs.Wait() }
}

// vclient is one virtual client: a loop of operations on its team.
type vclient struct {
	r     *run
	c     *conveyor.Client
	team  uuid.UUID
	rng   *rand.Rand
	files []uuid.UUID // its small uploads, for jobs
	jobs  []uuid.UUID
}

// ops is the workload's mix (weights).
var ops = []struct {
	name   string
	weight int
}{
	{"getTeam", 8}, {"listFiles", 10}, {"listJobs", 8}, {"getFile", 6}, {"getJob", 6},
	{"upload.stream.small", 16}, {"upload.direct.small", 6},
	{"upload.stream.big", 1}, {"upload.direct.big", 1},
	{"createJob", 20},
}

func (v *vclient) pick() string {
	total := 0
	for _, o := range ops {
		total += o.weight
	}
	n := v.rng.IntN(total)
	for _, o := range ops {
		if n < o.weight {
			return o.name
		}
		n -= o.weight
	}
	return ops[0].name
}

// loop runs operations until ctx ends, with a short think time between.
func (v *vclient) loop(ctx context.Context) {
	for ctx.Err() == nil {
		v.one(ctx, v.pick())
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(50+v.rng.IntN(200)) * time.Millisecond):
		}
	}
}

func (v *vclient) one(ctx context.Context, op string) {
	r, c, team := v.r, v.c, v.team
	// A call cut by the end of the load is not a failure of the system.
	ctx = context.WithoutCancel(ctx)
	switch op {
	case "getTeam":
		_ = r.rec.do(ctx, op, func(ctx context.Context) error { _, err := c.Team(ctx, team); return err })
	case "listFiles":
		_ = r.rec.do(ctx, op, func(ctx context.Context) error {
			res, err := c.ListFilesWithResponse(ctx, team, nil)
			return answer(res.HTTPResponse, res.Body, err)
		})
	case "listJobs":
		_ = r.rec.do(ctx, op, func(ctx context.Context) error {
			res, err := c.ListJobsWithResponse(ctx, team, nil)
			return answer(res.HTTPResponse, res.Body, err)
		})
	case "getFile":
		if len(v.files) == 0 {
			v.one(ctx, "upload.stream.small")
			return
		}
		f := v.files[v.rng.IntN(len(v.files))]
		_ = r.rec.do(ctx, op, func(ctx context.Context) error { _, err := c.File(ctx, team, f); return err })
	case "getJob":
		if len(v.jobs) == 0 {
			v.one(ctx, "createJob")
			return
		}
		j := v.jobs[v.rng.IntN(len(v.jobs))]
		_ = r.rec.do(ctx, op, func(ctx context.Context) error { _, err := c.Job(ctx, team, j); return err })
	case "upload.stream.small", "upload.direct.small":
		v.upload(ctx, op, int64(1+v.rng.IntN(64<<10)))
	case "upload.stream.big", "upload.direct.big":
		select {
		case r.big <- struct{}{}:
			defer func() { <-r.big }()
			v.upload(ctx, op, r.o.BigSize)
		default:
			v.upload(ctx, op[:len(op)-len("big")]+"small", int64(1+v.rng.IntN(64<<10)))
		}
	case "createJob":
		if len(v.files) == 0 {
			v.one(ctx, "upload.stream.small")
			return
		}
		f := v.files[v.rng.IntN(len(v.files))]
		var job *conveyor.Job
		err := r.rec.do(ctx, op, func(ctx context.Context) error {
			var err error
			job, err = c.CreateJob(ctx, team, conveyor.JobCreate{Processor: "inspect", FileId: &f})
			return err
		})
		if err == nil {
			v.jobs = append(v.jobs, job.Id)
			r.mu.Lock()
			r.jobs = append(r.jobs, acceptedJob{team: team, job: job.Id})
			r.mu.Unlock()
		}
	}
}

func (v *vclient) upload(ctx context.Context, op string, size int64) {
	src := newContent(v.rng.Uint64(), size)
	var opts []conveyor.UploadOption
	if op == "upload.direct.small" || op == "upload.direct.big" {
		opts = append(opts, conveyor.WithSize(size), conveyor.WithDirect())
	}
	var f *conveyor.File
	err := v.r.rec.do(ctx, op, func(ctx context.Context) error {
		var err error
		f, err = v.c.UploadFile(ctx, v.team, fmt.Sprintf("chaos-%d.bin", size), src, opts...)
		return err
	})
	if err != nil {
		return
	}
	if size < 1<<20 {
		v.files = append(v.files, f.Id)
	}
	v.r.mu.Lock()
	v.r.uploads = append(v.r.uploads, upload{op: op, team: v.team, file: f.Id, size: size, sha256: src.sum(), server: f.Sha256})
	v.r.mu.Unlock()
}

// answer turns a generated client's answer into an error for non-2xx.
func answer(resp *http.Response, body []byte, err error) error {
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("answered %d: %.200s", resp.StatusCode, body)
	}
	return nil
}

// content is size pseudo-random bytes from seed, hashed as they are read;
// it seeks back to its start (as a file would), so the SDK can retry it.
type content struct {
	seed       [32]byte
	size, left int64
	rng        *rand.ChaCha8
	h          hash.Hash
}

func newContent(seed uint64, size int64) *content {
	c := &content{size: size}
	for i := range 8 {
		c.seed[i] = byte(seed >> (8 * i))
	}
	_, _ = c.Seek(0, io.SeekStart)
	return c
}

// Seek goes back to the start, or tells where it is; nothing else.
func (c *content) Seek(offset int64, whence int) (int64, error) {
	switch {
	case whence == io.SeekCurrent && offset == 0:
		return c.size - c.left, nil
	case whence == io.SeekStart && offset == 0:
		c.rng, c.left, c.h = rand.NewChaCha8(c.seed), c.size, sha256.New()
		return 0, nil
	}
	return 0, errors.New("chaos: content seeks only back to its start")
}

func (c *content) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, _ := c.rng.Read(p)
	c.h.Write(p[:n])
	c.left -= int64(n)
	return n, nil
}

func (c *content) sum() string { return hex.EncodeToString(c.h.Sum(nil)) }
