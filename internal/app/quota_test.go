package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
	"github.com/conveyorhq/conveyor/internal/apptest"
)

// quotaProblem is a quota refusal as the API answers it.
type quotaProblem struct {
	Type   string `json:"type"`
	Status int    `json:"status"`
	Quota  *struct {
		Quota          string `json:"quota"`
		Limit          int64  `json:"limit"`
		StoredBytes    int64  `json:"stored_bytes"`
		ReservedBytes  int64  `json:"reserved_bytes"`
		RequestedBytes *int64 `json:"requested_bytes"`
	} `json:"quota"`
}

// quotaTeam creates a team and gives it a storage quota and a file limit.
func quotaTeam(t *testing.T, rc rawClient, name string, maxStored, maxFile int64) string {
	t.Helper()
	r, b := rc.send("POST", "/teams", "application/json", []byte(`{"name":"`+name+`"}`), nil)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("create team: %d %s", r.StatusCode, b)
	}
	team := idOf(t, b)
	r, b = rc.send("PATCH", "/teams/"+team, "application/json",
		[]byte(fmt.Sprintf(`{"quota":{"max_stored_bytes":%d,"max_file_bytes":%d}}`, maxStored, maxFile)), map[string]string{"If-Match": "*"})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("set quota: %d %s", r.StatusCode, b)
	}
	return team
}

// uploadBody is a multipart body holding n bytes as the part "file".
func uploadBody(n int) ([]byte, string) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile("file", "blob.bin")
	_, _ = w.Write(bytes.Repeat([]byte{'q'}, n))
	_ = mw.Close()
	return body.Bytes(), mw.FormDataContentType()
}

// streamUpload uploads n bytes through the API, with a Content-Length or
// (chunked) without one, and returns the status and body.
func streamUpload(t *testing.T, rc rawClient, team string, n int, known bool) (int, []byte) {
	t.Helper()
	body, ctype := uploadBody(n)
	var rd io.Reader = bytes.NewReader(body)
	if !known {
		rd = io.MultiReader(rd) // hides the length: sent chunked
	}
	req, err := http.NewRequest("POST", rc.base+"/api/v1/teams/"+team+"/files", rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+rc.token)
	req.Header.Set("Content-Type", ctype)
	resp, err := rc.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func parseQuotaProblem(t *testing.T, status int, b []byte, wantType string) quotaProblem {
	t.Helper()
	var p quotaProblem
	if err := json.Unmarshal(b, &p); err != nil || status != http.StatusRequestEntityTooLarge ||
		p.Type != "https://conveyor.dev/problems/"+wantType || p.Quota == nil {
		t.Fatalf("want a 413 %s problem with its quota, got %d %s", wantType, status, b)
	}
	return p
}

// counters reads a team's usage counters (and its reservation rows).
func counters(t *testing.T, e *apptest.Env, team string) (stored, files, reserved, reservations int64) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.Stack.DirectPrimaryURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, `SELECT file_bytes + output_bytes, file_count, reserved_bytes,
		(SELECT count(*) FROM storage_reservations WHERE team_id = $1) FROM team_usage_counters WHERE team_id = $1`, team).
		Scan(&stored, &files, &reserved, &reservations); err != nil {
		t.Fatal(err)
	}
	return
}

func teamObjects(t *testing.T, e *apptest.Env, team string) int {
	t.Helper()
	out, err := e.Stack.S3Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(e.Stack.S3Bucket),
		Prefix: aws.String("teams/" + team + "/")})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Contents)
}

// TestTeamQuotaReadAndChange: a team read shows the limits in force and
// whether each is the platform default; a platform admin sets and resets
// them with PATCH (null: the default again), which is audited; a team
// manager may rename the team but is refused (403) a quota change, and
// nothing of that request is applied.
func TestTeamQuotaReadAndChange(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	adminTok := e.Token(t, "quota-admin", true)
	admin := sdk(t, e, adminTok)
	rc := rawClient{t: t, base: e.URL, token: adminTok, c: e.Client(t)}
	team, err := admin.CreateTeam(ctx, "Quota reads")
	if err != nil {
		t.Fatal(err)
	}
	def := conveyor.TeamQuota{MaxStoredBytes: 107374182400, MaxFileBytes: 5368709120, MaxRunningJobs: 20,
		IsDefault: conveyor.TeamQuotaDefaults{MaxStoredBytes: true, MaxFileBytes: true, MaxRunningJobs: true}}
	if team.Quota != def {
		t.Fatalf("a new team's quota: %+v, want the defaults %+v", team.Quota, def)
	}
	path := "/teams/" + team.Id.String()
	r, b := rc.send("PATCH", path, "application/json", []byte(`{"quota":{"max_stored_bytes":1000000,"max_running_jobs":3}}`),
		map[string]string{"If-Match": `"` + strings.Repeat("x", 22) + `"`})
	if r.StatusCode != http.StatusPreconditionFailed {
		t.Fatalf("a quota change on a stale ETag: %d %s", r.StatusCode, b)
	}
	r, _ = rc.send("GET", path, "", nil, nil)
	r, b = rc.send("PATCH", path, "application/json", []byte(`{"quota":{"max_stored_bytes":1000000,"max_running_jobs":3}}`),
		map[string]string{"If-Match": r.Header.Get("ETag")})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("admin sets quota: %d %s", r.StatusCode, b)
	}
	want := conveyor.TeamQuota{MaxStoredBytes: 1000000, MaxFileBytes: 5368709120, MaxRunningJobs: 3,
		IsDefault: conveyor.TeamQuotaDefaults{MaxStoredBytes: false, MaxFileBytes: true, MaxRunningJobs: false}}
	got, err := admin.Team(ctx, team.Id)
	if err != nil || got.Quota != want {
		t.Fatalf("after the change: %+v %v, want %+v", got.Quota, err, want)
	}
	var listed *conveyor.Team
	for tm, err := range admin.Teams(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if tm.Id == team.Id {
			listed = &tm
			break
		}
	}
	if listed == nil || listed.Quota != want {
		t.Fatalf("the team in the admin's list: %+v", listed)
	}
	if r, b := rc.send("PATCH", path, "application/json", []byte(`{"quota":{"max_stored_bytes":0}}`), map[string]string{"If-Match": "*"}); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("a zero quota: %d %s", r.StatusCode, b)
	}

	// A team manager renames, but may not touch the quota.
	if _, err := admin.AddMemberWithResponse(ctx, team.Id, nil, conveyor.AddMemberJSONRequestBody{Email: "quota-manager@example.test", Role: conveyor.TeamRoleManager}); err != nil {
		t.Fatal(err)
	}
	mc := rawClient{t: t, base: e.URL, token: e.Token(t, "quota-manager", false), c: e.Client(t)}
	r, b = mc.send("PATCH", path, "application/json", []byte(`{"name":"Sneaky","quota":{"max_stored_bytes":null}}`), map[string]string{"If-Match": "*"})
	if r.StatusCode != http.StatusForbidden || !bytes.Contains(b, []byte("problems/forbidden")) {
		t.Fatalf("a team manager changing the quota: %d %s", r.StatusCode, b)
	}
	if r, b := mc.send("PATCH", path, "application/json", []byte(`{"name":"Renamed by manager"}`), map[string]string{"If-Match": "*"}); r.StatusCode != http.StatusOK {
		t.Fatalf("a team manager renaming: %d %s", r.StatusCode, b)
	}
	if got, _ := admin.Team(ctx, team.Id); got.Name != "Renamed by manager" || got.Quota != want {
		t.Fatalf("after the manager's requests: %+v", got)
	}

	// null resets a limit to the default.
	if r, b := rc.send("PATCH", path, "application/json", []byte(`{"quota":{"max_stored_bytes":null}}`), map[string]string{"If-Match": "*"}); r.StatusCode != http.StatusOK {
		t.Fatalf("reset: %d %s", r.StatusCode, b)
	}
	want.MaxStoredBytes, want.IsDefault.MaxStoredBytes = def.MaxStoredBytes, true
	if got, _ := admin.Team(ctx, team.Id); got.Quota != want {
		t.Fatalf("after the reset: %+v, want %+v", got.Quota, want)
	}
	_, b = rc.send("GET", path+"/audit-events?action=team.quota_changed", "", nil, nil)
	var events struct {
		Items []struct {
			Details map[string]map[string]any `json:"details"`
		} `json:"items"`
	}
	if err := json.Unmarshal(b, &events); err != nil || len(events.Items) != 2 {
		t.Fatalf("quota audit events: %s", b)
	}
	if d := events.Items[0].Details; d["previous"]["max_stored_bytes"] != float64(1000000) || d["quota"]["max_stored_bytes"] != nil ||
		d["quota"]["max_running_jobs"] != float64(3) {
		t.Fatalf("the reset's audit details: %v", d)
	}
}

// TestUploadsPastTheQuota: a file over the team's max_file_bytes and an
// upload that would take the team past max_stored_bytes are refused with
// their own problem types, the limit and the usage — streamed with a
// Content-Length (refused before it streams), streamed without one
// (refused as it streams), and as a direct upload (refused at create) —
// and none of them leaves a row, an object or a reservation behind.
func TestUploadsPastTheQuota(t *testing.T) {
	e := setup(t)
	rc := rawClient{t: t, base: e.URL, token: e.Token(t, "quota-up-admin", true), c: e.Client(t)}
	const quota, fileMax = 1 << 20, 900 << 10
	team := quotaTeam(t, rc, "Quota uploads", quota, fileMax)

	st, b := streamUpload(t, rc, team, 1000<<10, true)
	p := parseQuotaProblem(t, st, b, "file-too-large")
	if p.Quota.Quota != "max_file_bytes" || p.Quota.Limit != fileMax {
		t.Fatalf("file too large: %s", b)
	}
	st, b = streamUpload(t, rc, team, 1000<<10, false)
	if p = parseQuotaProblem(t, st, b, "file-too-large"); p.Quota.Limit != fileMax {
		t.Fatalf("file too large, chunked: %s", b)
	}
	if st, b := streamUpload(t, rc, team, 500<<10, true); st != http.StatusCreated {
		t.Fatalf("a file that fits: %d %s", st, b)
	}
	for _, known := range []bool{true, false} {
		st, b := streamUpload(t, rc, team, 700<<10, known)
		p := parseQuotaProblem(t, st, b, "quota-exceeded")
		if p.Quota.Quota != "max_stored_bytes" || p.Quota.Limit != quota || p.Quota.StoredBytes != 500<<10 || p.Quota.ReservedBytes != 0 {
			t.Fatalf("over the quota (length known: %v): %s", known, b)
		}
	}
	r, b := rc.send("POST", "/teams/"+team+"/uploads", "application/json", []byte(`{"name":"direct.bin","size":600000}`), nil)
	if p := parseQuotaProblem(t, r.StatusCode, b, "quota-exceeded"); p.Quota.RequestedBytes == nil || *p.Quota.RequestedBytes != 600000 {
		t.Fatalf("direct upload over the quota: %s", b)
	}
	r, b = rc.send("POST", "/teams/"+team+"/uploads", "application/json", []byte(`{"name":"direct.bin","size":1000000}`), nil)
	parseQuotaProblem(t, r.StatusCode, b, "file-too-large")

	stored, files, reserved, reservations := counters(t, e, team)
	if stored != 500<<10 || files != 1 || reserved != 0 || reservations != 0 {
		t.Fatalf("counters after the refusals: stored %d, files %d, reserved %d in %d reservations", stored, files, reserved, reservations)
	}
	if rows, _ := teamRows(t, e, team); rows["files"] != 1 || rows["uploads"] != 0 {
		t.Fatalf("rows after the refusals: %v", rows)
	}
	if n := teamObjects(t, e, team); n != 1 {
		t.Fatalf("%d objects stored; want only the file that fit", n)
	}

	// A direct upload that fits holds its room until it completes.
	r, b = rc.send("POST", "/teams/"+team+"/uploads", "application/json", []byte(`{"name":"direct.bin","size":400000}`), nil)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("a direct upload that fits: %d %s", r.StatusCode, b)
	}
	var u struct {
		ID    string
		Parts []struct{ URL string }
	}
	_ = json.Unmarshal(b, &u)
	if st, b := streamUpload(t, rc, team, 200<<10, true); st != http.StatusRequestEntityTooLarge {
		t.Fatalf("a stream into the room a direct upload holds: %d %s", st, b)
	}
	putTo(t, u.Parts[0].URL, bytes.Repeat([]byte{'d'}, 400000))
	if r, b := rc.send("POST", "/teams/"+team+"/uploads/"+u.ID+"/complete", "application/json", []byte(`{}`), nil); r.StatusCode != http.StatusCreated {
		t.Fatalf("complete: %d %s", r.StatusCode, b)
	}
	if stored, files, reserved, _ := counters(t, e, team); stored != 500<<10+400000 || files != 2 || reserved != 0 {
		t.Fatalf("counters after the direct upload: stored %d, files %d, reserved %d", stored, files, reserved)
	}
}

// TestConcurrentUploadsCannotOvershootTheQuota races uploads against one
// team's quota: streams with and without a Content-Length, and direct
// uploads. Each holds its bytes in the database before (or, without a
// length, while) it streams, so the team never passes its quota.
func TestConcurrentUploadsCannotOvershootTheQuota(t *testing.T) {
	e := setup(t)
	rc := rawClient{t: t, base: e.URL, token: e.Token(t, "quota-race-admin", true), c: e.Client(t)}
	const quota, size = 1 << 20, 300 << 10
	team := quotaTeam(t, rc, "Quota race", quota, quota)

	const racers = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ok      int
		refused int
		other   []string
	)
	start := make(chan struct{})
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			st, b := streamUpload(t, rc, team, size, i%2 == 0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case st == http.StatusCreated:
				ok++
			case st == http.StatusRequestEntityTooLarge && bytes.Contains(b, []byte("problems/quota-exceeded")):
				refused++
			default:
				other = append(other, fmt.Sprintf("%d %s", st, b))
			}
		}()
	}
	close(start)
	wg.Wait()
	// A stream without a Content-Length reserves as it goes, so racing
	// streams may each hold part of the room and fewer than quota/size
	// fit; what must never happen is more.
	if len(other) > 0 || ok < 1 || ok > quota/size || ok+refused != racers {
		t.Fatalf("%d stored, %d refused, others %v; want between 1 and %d stored, the rest refused", ok, refused, other, quota/size)
	}
	stored, files, reserved, _ := counters(t, e, team)
	if stored != int64(ok*size) || stored > quota || files != int64(ok) || reserved != 0 {
		t.Fatalf("counters: stored %d (quota %d), files %d, reserved %d", stored, quota, files, reserved)
	}
	if n := teamObjects(t, e, team); n != ok {
		t.Fatalf("%d objects for %d files", n, ok)
	}

	// Direct uploads, which declare their size, race for what is left: exactly
	// as many of 100 KiB as fit are created (one when three streams were stored).
	fit := (quota - int(stored)) / 102400
	var created int
	wg = sync.WaitGroup{}
	start = make(chan struct{})
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, _ := rc.send("POST", "/teams/"+team+"/uploads", "application/json", []byte(`{"name":"d.bin","size":102400}`), nil)
			mu.Lock()
			defer mu.Unlock()
			if r.StatusCode == http.StatusCreated {
				created++
			}
		}()
	}
	close(start)
	wg.Wait()
	if _, _, reserved, _ := counters(t, e, team); created != min(fit, 6) || reserved != int64(created)*102400 {
		t.Fatalf("%d direct uploads created, %d bytes reserved; want %d of 102400", created, reserved, min(fit, 6))
	}
}

// TestUsageReconcilerCorrectsDrift: counters that drifted from the rows
// (here set wrong by hand) and a reservation left by a process that died
// are corrected by the worker's reconciler: the usage is exact again, and
// the room the dead upload held is free for a new one.
func TestUsageReconcilerCorrectsDrift(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	rc := rawClient{t: t, base: e.URL, token: e.Token(t, "quota-drift-admin", true), c: e.Client(t)}
	team := quotaTeam(t, rc, "Quota drift", 1<<20, 1<<20)
	if st, b := streamUpload(t, rc, team, 300<<10, true); st != http.StatusCreated {
		t.Fatalf("upload: %d %s", st, b)
	}
	conn, err := pgx.Connect(ctx, e.Stack.DirectPrimaryURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// A crashed API process's stream: 700 KiB held, its reservation long expired.
	dead := uuid.New()
	if _, err := conn.Exec(ctx, `WITH r AS (INSERT INTO storage_reservations (id, team_id, bytes, expires_at)
		VALUES ($1, $2, 716800, now() - interval '1 minute') RETURNING bytes)
		UPDATE team_usage_counters SET reserved_bytes = reserved_bytes + (SELECT bytes FROM r),
			file_count = file_count + 5, file_bytes = file_bytes - 1000 WHERE team_id = $2`, dead, team); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() string {
		stored, files, reserved, reservations := counters(t, e, team)
		if stored != 300<<10 || files != 1 || reserved != 0 || reservations != 0 {
			return fmt.Sprintf("counters: stored %d, files %d, reserved %d in %d reservations", stored, files, reserved, reservations)
		}
		return ""
	})
	admin := sdk(t, e, e.Token(t, "quota-drift-admin", true))
	eventually(t, 10*time.Second, func() string { // read from a replica, which replays the correction
		if u := usageOf(t, admin, uuid.MustParse(team)); u.StoredBytes != 300<<10 || u.FileCount != 1 {
			return "usage after the reconciler: " + jsonOf(u)
		}
		return ""
	})
	if st, b := streamUpload(t, rc, team, 600<<10, true); st != http.StatusCreated {
		t.Fatalf("an upload into the room the dead one held: %d %s", st, b)
	}
}
