// The docs' webhook verification samples: a receiver in Go with the SDK's
// WebhookVerifier (clients/go/webhooks.go), one in TypeScript with
// @conveyor/client/webhooks, and the algorithm itself in Go with no
// library. sampleFiles (index.mjs) writes them into gen/codesamples, where
// check-codesamples.mjs compiles (go vet) and type-checks (tsc) them like
// the operations' samples; withCodeSamples appends them to the events
// tag's description (its "Verifying webhook deliveries" section).

/** The samples: where each goes under gen/codesamples, and how the docs label it. */
export const WEBHOOK_SAMPLES = [
  {
    file: "go/verifyWebhook/main.go",
    lang: "go",
    label: "Go (SDK)",
    source: `package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
)

func main() {
	// The endpoint's secret, as the API showed it (whsec_...). During a
	// rotation, pass the old and the new one.
	v, err := conveyor.NewWebhookVerifier(os.Getenv("CONVEYOR_WEBHOOK_SECRET"))
	if err != nil {
		log.Fatal(err)
	}
	http.HandleFunc("POST /hooks/conveyor", func(w http.ResponseWriter, r *http.Request) {
		ev, err := v.VerifyRequest(r)
		if err != nil {
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		// ev.ID (webhook-id) is the same on every retry of one event:
		// skip one you have handled already.
		if ev.Type == "job.failed" {
			var data conveyor.JobUpdatedEventData
			if err := json.Unmarshal(ev.Data, &data); err != nil {
				http.Error(w, "bad data", http.StatusBadRequest)
				return
			}
			if data.Job.Error != nil {
				log.Printf("job %s failed: %s", data.Job.Id, data.Job.Error.Message)
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8081", nil))
}
`,
  },
  {
    file: "ts/verifyWebhook.ts",
    lang: "typescript",
    label: "TypeScript (@conveyor/client/webhooks)",
    source: `import { createServer } from "node:http";
import type { components } from "@conveyor/client";
import { verifyWebhook, WebhookSignatureError } from "@conveyor/client/webhooks";

type JobData = components["schemas"]["JobUpdatedEventData"];

// The endpoint's secret, as the API showed it (whsec_...). During a
// rotation, pass both: [oldSecret, newSecret].
const secret = process.env["CONVEYOR_WEBHOOK_SECRET"] ?? "";

createServer((req, res) => {
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk: string) => (body += chunk));
  req.on("end", () => {
    try {
      // The raw body, exactly as received.
      const ev = verifyWebhook<JobData>(secret, body, req.headers);
      // ev.id (webhook-id) is the same on every retry of one event.
      if (ev.type === "job.failed") console.log(\`job \${ev.data.job.id} failed: \${ev.data.job.error?.message ?? ""}\`);
      res.writeHead(204).end();
    } catch (err) {
      res.writeHead(err instanceof WebhookSignatureError ? 400 : 500).end();
    }
  });
}).listen(8081, "127.0.0.1");
`,
  },
  {
    file: "go/verifyWebhookRaw/main.go",
    lang: "go",
    label: "The algorithm (Go, no library)",
    source: `package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// verify checks one delivery the way the Standard Webhooks specification
// says: the signature is "v1," + base64(HMAC-SHA256(key, id + "." +
// timestamp + "." + body)), one per active secret, space-separated.
func verify(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return errors.New("malformed secret")
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("malformed timestamp")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("timestamp too far off")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return errors.New("no signature matches")
}

func main() {
	secret := os.Getenv("CONVEYOR_WEBHOOK_SECRET")
	http.HandleFunc("POST /hooks/conveyor", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil || verify(secret, r.Header, body, time.Now()) != nil {
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8081", nil))
}
`,
  },
];

/** The markdown appended to the events tag's description in the docs. */
export function webhookSamplesMarkdown() {
  return WEBHOOK_SAMPLES.map((s) => `#### ${s.label}\n\n\`\`\`${s.lang}\n${s.source.trimEnd()}\n\`\`\`\n`).join("\n");
}
