package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/conveyorhq/conveyor/internal/devstack"
	"github.com/conveyorhq/conveyor/internal/notify"
)

// verifyScript verifies each case with the npm package standardwebhooks
// (the Standard Webhooks reference library for JavaScript, a dependency of
// clients/ts) and prints whether it verified.
const verifyScript = `
import { Webhook } from "standardwebhooks";
let input = "";
for await (const chunk of process.stdin) input += chunk;
const out = JSON.parse(input).map((c) => {
  try {
    const ev = new Webhook(c.secret).verify(c.body, c.headers);
    return { ok: true, type: ev.type };
  } catch (err) {
    return { ok: false, error: String(err) };
  }
});
process.stdout.write(JSON.stringify(out));
`

// TestSignaturesVerifyWithTheUpstreamNodeLibrary: Conveyor's signatures, a
// rotation's two among them, verify with npm standardwebhooks; a changed
// body and another secret do not.
func TestSignaturesVerifyWithTheUpstreamNodeLibrary(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is needed: %v", err)
	}
	root, err := devstack.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "clients", "ts")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "standardwebhooks")); err != nil {
		t.Fatalf("clients/ts/node_modules/standardwebhooks is missing (run make deps): %v", err)
	}
	old, next := notify.NewSecret(), notify.NewSecret()
	now := time.Now()
	keys := notify.Keys{Current: old}.Rotate(next, now.Add(-time.Hour))
	body := mustBody(t, notify.Payload{Type: "file.deleted", Timestamp: now, Data: json.RawMessage(`{"id":"f1","name":"ünïcode.txt"}`)})
	h := keys.Headers("msg_node", now, body)
	flat := map[string]string{}
	for _, k := range []string{notify.HeaderID, notify.HeaderTimestamp, notify.HeaderSignature} {
		flat[k] = h.Get(k)
	}
	type tc struct {
		Secret  string            `json:"secret"`
		Body    string            `json:"body"`
		Headers map[string]string `json:"headers"`
		want    bool
	}
	cases := []tc{
		{next.String(), string(body), flat, true},
		{old.String(), string(body), flat, true},
		{next.String(), string(bytes.Replace(body, []byte("f1"), []byte("f2"), 1)), flat, false},
		{notify.NewSecret().String(), string(body), flat, false},
	}
	in, _ := json.Marshal(cases)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--input-type=module", "-e", verifyScript)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var got []struct {
		OK    bool   `json:"ok"`
		Type  string `json:"type"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(out, &got); err != nil || len(got) != len(cases) {
		t.Fatalf("node printed %s (%v)", out, err)
	}
	for i, c := range cases {
		if got[i].OK != c.want {
			t.Errorf("case %d: verified=%v (%s), want %v", i, got[i].OK, got[i].Error, c.want)
		}
		if c.want && got[i].Type != "file.deleted" {
			t.Errorf("case %d: type %q", i, got[i].Type)
		}
	}
}
