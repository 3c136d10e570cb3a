package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/conveyorhq/conveyor/internal/app"
	"github.com/conveyorhq/conveyor/internal/auth"
	"github.com/conveyorhq/conveyor/internal/devstack"
)

// platform is the stack the benchmark runs against: devstack (primary and
// a replica behind PgBouncer, Redis, S3) and Conveyor's API and worker as
// child processes of the benchmark, configured as in the integration tests
// (apptest) but with production logging (info, JSON, to a file) and
// PostgreSQL's durability on (fsync per commit, as in production and
// `make run`; tests turn it off).
type platform struct {
	dir     string
	stack   *devstack.Stack
	vars    map[string]string
	url     string
	api     *child
	worker  *child
	token   string
	db      *pgxpool.Pool // the primary, directly (seeding, counting)
	replica *pgxpool.Pool // the replica, directly (has it caught up?)
	client  *http.Client
}

// startPlatform brings the stack and Conveyor up under dir.
func startPlatform(ctx context.Context, dir string, progress io.Writer) (_ *platform, err error) {
	sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	stack, err := devstack.Start(sctx, devstack.Options{Dir: filepath.Join(dir, "stack"), Replicas: 1, Durable: true})
	if err != nil {
		return nil, err
	}
	p := &platform{dir: dir, stack: stack}
	defer func() {
		if err != nil {
			err = errors.Join(err, p.close())
		}
	}()
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	runDir := filepath.Join(dir, "conveyor")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, err
	}
	p.url = "http://127.0.0.1:" + strconv.Itoa(ports[0])
	p.vars = map[string]string{
		"CONVEYOR_HTTP_ADDR":             "127.0.0.1:" + strconv.Itoa(ports[0]),
		"CONVEYOR_WORKER_ADDR":           "127.0.0.1:" + strconv.Itoa(ports[1]),
		"CONVEYOR_INTERNAL_ADDR":         "127.0.0.1:" + strconv.Itoa(ports[2]),
		"CONVEYOR_DEV":                   "true",
		"CONVEYOR_RUN_DIR":               runDir,
		"CONVEYOR_DATABASE_URL":          stack.PrimaryURL,
		"CONVEYOR_DATABASE_REPLICA_URLS": strings.Join(stack.ReplicaURLs, ","),
		"CONVEYOR_DATABASE_MIGRATE_URL":  stack.DirectPrimaryURL,
		"CONVEYOR_REDIS_ADDR":            stack.RedisAddr,
		"CONVEYOR_S3_ENDPOINT":           stack.S3Endpoint,
		"CONVEYOR_S3_REGION":             stack.S3Region,
		"CONVEYOR_S3_BUCKET":             stack.S3Bucket,
		"CONVEYOR_S3_ACCESS_KEY_ID":      stack.S3AccessKey,
		"CONVEYOR_S3_SECRET_ACCESS_KEY":  stack.S3SecretKey,
		"CONVEYOR_OIDC_ISSUER":           "http://127.0.0.1:" + strconv.Itoa(ports[0]) + auth.DevIssuerPath,
		"CONVEYOR_LOG_LEVEL":             "info",
		"CONVEYOR_LOG_FORMAT":            "json",
		"CONVEYOR_SHUTDOWN_TIMEOUT":      "5s",
		// The benchmark is one principal sending thousands of requests: the
		// limits are raised, not turned off, so every request still passes
		// through the limiter.
		"CONVEYOR_RATE_LIMIT_READ":          "1000000/s",
		"CONVEYOR_RATE_LIMIT_WRITE":         "1000000/s",
		"CONVEYOR_RATE_LIMIT_UPLOAD":        "1000000/s",
		"CONVEYOR_RATE_LIMIT_AUTH_FAILURES": "off",
	}
	if err := app.Run(ctx, []string{"conveyor", "migrate", "up"}, p.getenv, io.Discard, progress); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if p.api, err = startChild(dir, "conveyor-serve", []string{"conveyor", "serve"}, p.vars); err != nil {
		return nil, err
	}
	if err := p.api.waitHealthy(ctx, p.url+"/healthz", time.Minute); err != nil {
		return nil, err
	}
	if p.worker, err = startChild(dir, "conveyor-worker", []string{"conveyor", "worker"}, p.vars); err != nil {
		return nil, err
	}
	if err := p.worker.waitHealthy(ctx, "http://"+p.vars["CONVEYOR_WORKER_ADDR"]+"/healthz", time.Minute); err != nil {
		return nil, err
	}
	iss, err := auth.LoadDevIssuer(auth.DevKeyFile(runDir), p.issuer(), "api://conveyor")
	if err != nil {
		return nil, err
	}
	p.token, err = iss.Mint(auth.TokenRequest{Subject: "bench-admin", Email: "bench@example.test", Name: "Bench", Admin: true, TTL: 6 * time.Hour}, "Conveyor.Admin")
	if err != nil {
		return nil, err
	}
	if p.db, err = pgxpool.New(ctx, stack.DirectPrimaryURL); err != nil {
		return nil, err
	}
	if p.replica, err = pgxpool.New(ctx, stack.DirectReplicaURLs[0]); err != nil {
		return nil, err
	}
	p.client = &http.Client{Timeout: 2 * time.Minute}
	return p, nil
}

func (p *platform) getenv(k string) string { return p.vars[k] }

func (p *platform) issuer() string { return p.vars["CONVEYOR_OIDC_ISSUER"] }

// close stops Conveyor (SIGTERM by pid) and the stack.
func (p *platform) close() error {
	for _, db := range []*pgxpool.Pool{p.db, p.replica} {
		if db != nil {
			db.Close()
		}
	}
	err := errors.Join(p.worker.stop(), p.api.stop())
	if p.stack != nil {
		err = errors.Join(err, p.stack.Stop())
	}
	return err
}

// do sends one API request with the bench token and decodes a JSON answer
// into out (if not nil); a status other than want is an error.
func (p *platform) do(ctx context.Context, c *http.Client, method, path, ctype string, body io.Reader, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, p.url+"/api/v1"+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 2000))
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// createTeam creates a team and returns its id.
func (p *platform) createTeam(ctx context.Context, name string) (string, error) {
	var t struct{ ID string }
	err := p.do(ctx, p.client, "POST", "/teams", "application/json", strings.NewReader(`{"name":"`+name+`"}`), http.StatusCreated, &t)
	return t.ID, err
}

// uploadSmall uploads body as a file through the API and returns its id.
func (p *platform) uploadSmall(ctx context.Context, team, name string, body []byte) (string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		return "", err
	}
	_, _ = fw.Write(body)
	_ = mw.Close()
	var f struct{ ID string }
	err = p.do(ctx, p.client, "POST", "/teams/"+team+"/files", mw.FormDataContentType(), &buf, http.StatusCreated, &f)
	return f.ID, err
}

// loadClient is an HTTP client for conns concurrent workers: at most conns
// connections, kept alive.
func loadClient(conns int) *http.Client {
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
		IdleConnTimeout: time.Minute, DisableCompression: true,
	}}
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
