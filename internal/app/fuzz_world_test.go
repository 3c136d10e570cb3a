package app_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/apptest"
)

// fuzzWorld is the team the test works in, with real ids for path
// parameters.
type fuzzWorld struct {
	t      *testing.T
	env    *apptest.Env
	token  string
	ids    map[string]string // path parameter or property name -> a real id
	emails int
}

func newFuzzWorld(t *testing.T, e *apptest.Env) *fuzzWorld {
	t.Helper()
	w := &fuzzWorld{t: t, env: e, token: e.Token(t, "fuzz-admin", true), ids: map[string]string{}}
	team := w.setup("POST", "/teams", "application/json", `{"name":"Fuzz"}`, http.StatusCreated)
	w.ids["team_id"] = team["id"].(string)
	ctype, body := fuzzMultipart("--B\r\n" + fuzzFilePart("file", "fuzz.txt", "fuzz me") + "--B--\r\n")
	file := w.setup("POST", "/teams/"+w.ids["team_id"]+"/files", ctype, body, http.StatusCreated)
	w.ids["file_id"] = file["id"].(string)
	job := w.setup("POST", "/teams/"+w.ids["team_id"]+"/jobs", "application/json",
		`{"processor":"inspect","file_id":"`+w.ids["file_id"]+`"}`, http.StatusAccepted)
	w.ids["job_id"] = job["id"].(string)
	member := w.setup("POST", "/teams/"+w.ids["team_id"]+"/members", "application/json",
		`{"email":"fuzz-invitee@example.test","role":"viewer"}`, http.StatusCreated)
	w.ids["user_id"] = member["user_id"].(string)
	key := w.setup("POST", "/teams/"+w.ids["team_id"]+"/api-keys", "application/json",
		`{"name":"fuzz","role":"viewer"}`, http.StatusCreated)
	w.ids["key_id"] = key["id"].(string)
	return w
}

func (w *fuzzWorld) setup(method, path, ctype, body string, want int) map[string]any {
	w.t.Helper()
	req, err := http.NewRequest(method, w.env.URL+"/api/v1"+path, strings.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+w.token)
	req.Header.Set("Content-Type", ctype)
	resp, err := w.env.Client(w.t).Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != want {
		w.t.Fatalf("setup %s %s: %d (want %d): %v %v", method, path, resp.StatusCode, want, out, err)
	}
	return out
}

// request is the http.Request of c on the operation at template.
func (w *fuzzWorld) request(c fuzzReq, template string) (*http.Request, error) {
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequest("GET", c.url(w.env.URL, template), body)
	if err != nil {
		return nil, err
	}
	req.Method = c.method
	if !c.noAuth {
		req.Header.Set("Authorization", "Bearer "+w.token)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	if c.ctype != "" {
		req.Header.Set("Content-Type", c.ctype)
	}
	return req, nil
}

// discover finds a real id for each path parameter the setup did not
// make, such as that of a resource added to the spec later: the plausible
// POST on the parameter's collection creates one, and the id of its answer
// is used. Parameters it cannot fill get random uuids.
func (w *fuzzWorld) discover(ops []fuzzOp) {
	w.t.Helper()
	for _, o := range ops {
		for _, p := range o.params {
			i := strings.Index(o.path, "/{"+p.Name+"}")
			if p.In != openapi3.ParameterInPath || w.ids[p.Name] != "" || i < 0 {
				continue
			}
			for _, c := range ops {
				if c.method != http.MethodPost || c.path != o.path[:i] {
					continue
				}
				pb := w.plausible(c, rand.New(rand.NewPCG(*specFuzzSeed, 0)))
				req, err := w.request(pb.req, c.path)
				if !pb.known || err != nil {
					continue
				}
				resp, err := w.env.Client(w.t).Do(req)
				if err != nil {
					w.t.Fatal(err)
				}
				var out struct {
					ID string `json:"id"`
				}
				if json.NewDecoder(resp.Body).Decode(&out) == nil && resp.StatusCode < 300 && out.ID != "" {
					w.ids[p.Name] = out.ID
				}
				resp.Body.Close()
			}
			if w.ids[p.Name] == "" {
				w.t.Logf("no real %s: %s gets random uuids", p.Name, o.id)
			}
		}
	}
}

// realCursor returns a next_cursor the list operation op really returned,
// or one of the same shape when the list has a single page.
func (w *fuzzWorld) realCursor(o fuzzOp, base fuzzReq) string {
	r := base.clone()
	r.query = "limit=1"
	req, err := http.NewRequest(r.method, r.url(w.env.URL, o.path), nil)
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+w.token)
	resp, err := w.env.Client(w.t).Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		NextCursor *string `json:"next_cursor"`
	}
	if resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&page) == nil && page.NextCursor != nil {
		return *page.NextCursor
	}
	id := uuid.MustParse(w.ids["team_id"])
	return base64.RawURLEncoding.EncodeToString(id[:])
}
