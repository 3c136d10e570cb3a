// Package conveyor is the Go SDK for the Conveyor API.
//
// The generated layer (client.gen.go) has a typed method for every
// operation. The hand-written layer adds what a consumer should not have
// to write: authentication (WithToken, WithTokenSource, WithAPIKey),
// retries with backoff honouring Retry-After (WithRetry), an
// Idempotency-Key on every creating call, problem answers as a typed error
// (*Problem, for errors.As), lists as iterators (Teams, Files, Jobs),
// streamed or direct uploads with progress (UploadFile), waiting for a job
// (WaitForJob, WatchJob), job control (CancelJob, RetryJob), outputs and
// downloads that never send credentials to storage (JobOutputs,
// OpenJobOutput, OpenFile), and the team's live event stream, which
// reconnects by itself and resumes where it left off (Events). A webhook
// receiver checks Conveyor's deliveries with WebhookVerifier, built on the
// Standard Webhooks library.
//
//	c, err := conveyor.New("https://conveyor.example.com", conveyor.WithToken(token))
//	team, err := c.CreateTeam(ctx, "Imaging")
//	file, err := c.UploadFile(ctx, team.Id, "photo.png", f)
//	job, err := c.CreateJob(ctx, team.Id, conveyor.JobCreate{FileId: &file.Id, Processor: "thumbnail"})
//	job, err = c.WaitForJob(ctx, team.Id, job.Id, time.Second)
//	thumb, err := c.OpenJobOutput(ctx, team.Id, job.Id, "thumbnail.png")
//
// # Events
//
// Events opens a team's event stream and returns once the server has
// accepted it, so anything that happens in the team afterwards is
// delivered. The stream survives dropped connections and server restarts:
// it reconnects with backoff, sending Last-Event-ID so that nothing is
// missed. When the server no longer has the missed events, the stream
// yields an event of type EventTypeReset: re-read what you show, then
// carry on.
//
//	stream, err := c.Events(ctx, team.Id)
//	if err != nil {
//		return err
//	}
//	defer stream.Close()
//	for ev, err := range stream.All() {
//		if err != nil {
//			return err
//		}
//		switch ev.Type {
//		case conveyor.EventTypeJobUpdated:
//			fmt.Println(ev.Job.Id, ev.Job.Status, ev.Job.Progress)
//		case conveyor.EventTypeReset:
//			// re-read the team's jobs and files
//		}
//	}
//
// # Examples and tests
//
// The examples (example_test.go) run against a live server, so they are
// built only with the "live" build tag, and need CONVEYOR_URL (the server)
// and CONVEYOR_TOKEN (a platform admin's bearer token, as printed by
// `make run`):
//
//	CONVEYOR_URL=http://127.0.0.1:8080 CONVEYOR_TOKEN=... go test -tags live -run Example ./...
//
// Without the tag, `go test ./...` runs the unit tests only; with the tag
// and without a server, the examples fail. `make test` runs them against
// the server it starts (TestGoExamplesAgainstLiveServer in internal/app).
package conveyor
