package devstack_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/conveyorhq/conveyor/internal/devstack"
	"github.com/conveyorhq/conveyor/internal/devstack/devstacktest"
)

// connect opens one connection; URLs through PgBouncer need exec mode.
func connect(t *testing.T, ctx context.Context, url string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// waitVisible polls url until the row with id is there.
func waitVisible(t *testing.T, ctx context.Context, url string, id int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		lastErr = func() error {
			cfg, err := pgx.ParseConfig(url)
			if err != nil {
				return err
			}
			cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			var n int
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM probe WHERE id = $1", id).Scan(&n); err != nil {
				return err
			}
			if n != 1 {
				return fmt.Errorf("row %d not there yet", id)
			}
			return nil
		}()
		if lastErr == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("row %d not visible through %s: %v", id, url, lastErr)
}

func insert(t *testing.T, ctx context.Context, url string, id int) {
	t.Helper()
	conn := connect(t, ctx, url)
	if _, err := conn.Exec(ctx, "INSERT INTO probe (id, note) VALUES ($1, $2)", id, "hello"); err != nil {
		t.Fatalf("insert %d through %s: %v", id, url, err)
	}
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func TestStack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	st := devstacktest.StartForTest(t, 2)
	if len(st.ReplicaURLs) != 2 || len(st.DirectReplicaURLs) != 2 {
		t.Fatalf("want 2 replicas, got %d / %d URLs", len(st.ReplicaURLs), len(st.DirectReplicaURLs))
	}

	// Schema straight on the primary, data through PgBouncer.
	direct := connect(t, ctx, st.DirectPrimaryURL)
	if _, err := direct.Exec(ctx, "CREATE TABLE probe (id int PRIMARY KEY, note text)"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	insert(t, ctx, st.PrimaryURL, 1)
	for i, u := range st.ReplicaURLs {
		waitVisible(t, ctx, u, 1)
		var rec bool
		if err := connect(t, ctx, u).QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&rec); err != nil || !rec {
			t.Fatalf("replica %d through pgbouncer: pg_is_in_recovery = %v, err %v", i, rec, err)
		}
		if err := connect(t, ctx, st.DirectReplicaURLs[i]).QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&rec); err != nil || !rec {
			t.Fatalf("replica %d direct: pg_is_in_recovery = %v, err %v", i, rec, err)
		}
	}

	// Redis.
	rdb := redis.NewClient(&redis.Options{Addr: st.RedisAddr})
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis ping: %v", err)
	}

	// S3: put, list, get.
	s3c := st.S3Client()
	body := []byte("hello, bucket")
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(st.S3Bucket), Key: aws.String("dir/hello.txt"), Body: bytes.NewReader(body),
	}); err != nil {
		t.Fatalf("s3 put: %v", err)
	}
	list, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(st.S3Bucket)})
	if err != nil {
		t.Fatalf("s3 list: %v", err)
	}
	if len(list.Contents) != 1 || aws.ToString(list.Contents[0].Key) != "dir/hello.txt" {
		t.Fatalf("s3 list: unexpected contents %+v", list.Contents)
	}
	got, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(st.S3Bucket), Key: aws.String("dir/hello.txt")})
	if err != nil {
		t.Fatalf("s3 get: %v", err)
	}
	data, err := io.ReadAll(got.Body)
	_ = got.Body.Close()
	if err != nil || !bytes.Equal(data, body) {
		t.Fatalf("s3 get: %q, %v", data, err)
	}

	// Replica restart: it comes back in recovery and catches up.
	if err := st.StopReplica(0); err != nil {
		t.Fatalf("StopReplica: %v", err)
	}
	insert(t, ctx, st.PrimaryURL, 2)
	if err := st.StartReplica(ctx, 0); err != nil {
		t.Fatalf("StartReplica: %v", err)
	}
	waitVisible(t, ctx, st.ReplicaURLs[0], 2)

	// Primary restart: writes work again and reach the replicas.
	if err := st.StopPrimary(); err != nil {
		t.Fatalf("StopPrimary: %v", err)
	}
	if _, err := pgx.Connect(ctx, st.DirectPrimaryURL); err == nil {
		t.Fatalf("primary still answers after StopPrimary")
	}
	if err := st.StartPrimary(ctx); err != nil {
		t.Fatalf("StartPrimary: %v", err)
	}
	insert(t, ctx, st.PrimaryURL, 3)
	for _, u := range st.ReplicaURLs {
		waitVisible(t, ctx, u, 3)
	}

	// Redis and S3 restarts.
	if err := st.StopRedis(); err != nil {
		t.Fatalf("StopRedis: %v", err)
	}
	if err := st.StartRedis(ctx); err != nil {
		t.Fatalf("StartRedis: %v", err)
	}
	if err := st.StopS3(); err != nil {
		t.Fatalf("StopS3: %v", err)
	}
	if err := st.StartS3(ctx); err != nil {
		t.Fatalf("StartS3: %v", err)
	}

	// Stop leaves nothing behind.
	pids := st.PIDs()
	if len(pids) != 6 {
		t.Fatalf("want 6 running processes, got %v", pids)
	}
	if err := st.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	for name, pid := range pids {
		if alive(pid) {
			t.Errorf("%s (pid %d) still alive after Stop", name, pid)
		}
		if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s: process group %d still has members (%v)", name, pid, err)
		}
	}
	if err := st.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if err := st.StartRedis(ctx); err == nil {
		t.Fatalf("StartRedis after Stop succeeded")
	}
}

func TestStartOneReplicaTime(t *testing.T) {
	began := time.Now()
	st := devstacktest.StartForTest(t, 1)
	elapsed := time.Since(began)
	t.Logf("Start with 1 replica took %s", elapsed.Round(time.Millisecond))
	if len(st.ReplicaURLs) != 1 {
		t.Fatalf("want 1 replica, got %d", len(st.ReplicaURLs))
	}
	stopBegan := time.Now()
	if err := st.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	t.Logf("Stop took %s", time.Since(stopBegan).Round(time.Millisecond))
}

func TestKeepReusesData(t *testing.T) {
	devstacktest.SkipIfShort(t) // starts stacks with devstack.Start itself
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	root, err := devstack.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(root, ".run", "test")
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	keepDir, err := os.MkdirTemp(base, "keep-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keepDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			_ = os.RemoveAll(keepDir)
		}
	})

	st, err := devstack.Start(ctx, devstack.Options{Dir: keepDir, Keep: true})
	if err != nil {
		t.Fatalf("Start keep: %v", err)
	}
	t.Cleanup(func() { _ = st.Stop() })
	if _, err := connect(t, ctx, st.DirectPrimaryURL).Exec(ctx, "CREATE TABLE probe (id int PRIMARY KEY, note text)"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	insert(t, ctx, st.PrimaryURL, 7)
	if _, err := st.S3Client().PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(st.S3Bucket), Key: aws.String("kept.txt"), Body: bytes.NewReader([]byte("kept")),
	}); err != nil {
		t.Fatalf("s3 put: %v", err)
	}
	key1 := st.S3AccessKey
	if err := st.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	// Second run: new ports, same data, same S3 credentials.
	st2, err := devstack.Start(ctx, devstack.Options{Dir: keepDir, Keep: true})
	if err != nil {
		t.Fatalf("restart keep: %v", err)
	}
	t.Cleanup(func() { _ = st2.Stop() })
	if st2.S3AccessKey != key1 {
		t.Errorf("S3 access key changed across Keep restarts")
	}
	waitVisible(t, ctx, st2.ReplicaURLs[0], 7)
	if _, err := st2.S3Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(st2.S3Bucket), Key: aws.String("kept.txt")}); err != nil {
		t.Errorf("kept object missing: %v", err)
	}
	if err := st2.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

// processesUnder lists pids whose command line mentions dir.
func processesUnder(t *testing.T, dir string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmd), dir) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestStartFailureCleansUp(t *testing.T) {
	devstacktest.SkipIfShort(t) // starts stacks with devstack.Start itself
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Occupy a port and hand it to Redis: Start must fail, say why, and
	// leave nothing running.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port

	root, err := devstack.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(filepath.Join(root, ".run", "test"), "fail-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)

	st, err := devstack.Start(ctx, devstack.Options{Dir: dir, Ports: &devstack.Ports{Redis: busy}})
	if err == nil {
		_ = st.Stop()
		t.Fatal("Start succeeded with Redis on a busy port")
	}
	t.Logf("Start failed as expected: %v", err)
	if !strings.Contains(err.Error(), "redis") {
		t.Errorf("error does not name redis: %v", err)
	}
	if left := processesUnder(t, dir); len(left) > 0 {
		t.Errorf("processes left after failed Start: %v", left)
	}
}
