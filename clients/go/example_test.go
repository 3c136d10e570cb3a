//go:build live

// The examples run against a live Conveyor: build them with -tags live
// and set CONVEYOR_URL and CONVEYOR_TOKEN (a platform admin's token, so
// that each example can create its own team). See the package doc.

package conveyor_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
)

// TestMain refuses to run the live examples without a server to run them
// against: they would otherwise fail one by one, or not at all.
func TestMain(m *testing.M) {
	if os.Getenv("CONVEYOR_URL") == "" || os.Getenv("CONVEYOR_TOKEN") == "" {
		fmt.Fprintln(os.Stderr, "FAIL: the live examples need CONVEYOR_URL (e.g. http://127.0.0.1:8080) and "+
			"CONVEYOR_TOKEN (a platform admin's bearer token); without -tags live, go test runs the unit tests only")
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// setUp returns a client for the server in the environment, and a new
// team to work in.
func setUp() (*conveyor.Client, *conveyor.Team) {
	ctx := context.Background()
	c, err := conveyor.New(os.Getenv("CONVEYOR_URL"), conveyor.WithToken(os.Getenv("CONVEYOR_TOKEN")))
	check(err)
	team, err := c.CreateTeam(ctx, "example-"+uuid.NewString()[:8])
	check(err)
	return c, team
}

// check ends the example with err.
func check(err error) {
	if err != nil {
		panic(err)
	}
}

func ExampleClient_UploadFile() {
	ctx := context.Background()
	c, team := setUp()

	var sent int64
	file, err := c.UploadFile(ctx, team.Id, "hello.txt", strings.NewReader("hello, conveyor\n"),
		conveyor.WithProgress(func(n int64) { sent = n }))
	check(err)
	fmt.Println(file.Name, file.Size, file.ContentType)
	fmt.Println(file.Sha256)
	fmt.Println("sent", sent, "bytes")
	// Output:
	// hello.txt 16 text/plain; charset=utf-8
	// 353c3ddd35e6c0428f0a60d183e1cf9ee57ed74f893a951b00f893f0f26c39f6
	// sent 16 bytes
}

func ExampleClient_WaitForJob() {
	ctx := context.Background()
	c, team := setUp()
	file, err := c.UploadFile(ctx, team.Id, "hello.txt", strings.NewReader("hello, conveyor\n"))
	check(err)

	job, err := c.CreateJob(ctx, team.Id, conveyor.JobCreate{FileId: &file.Id, Processor: "inspect"})
	check(err)
	fmt.Println(job.Status)
	job, err = c.WaitForJob(ctx, team.Id, job.Id, 200*time.Millisecond)
	check(err)
	fmt.Println(job.Status, (*job.Result)["size"])
	// Output:
	// queued
	// succeeded 16
}

func ExampleClient_WatchJob() {
	ctx := context.Background()
	c, team := setUp()
	file, err := c.UploadFile(ctx, team.Id, "hello.txt", strings.NewReader("hello, conveyor\n"))
	check(err)
	job, err := c.CreateJob(ctx, team.Id, conveyor.JobCreate{FileId: &file.Id, Processor: "inspect"})
	check(err)

	// Each state of the job, as the team's event stream reports it, up
	// to a final one.
	progress := int32(-1)
	for j, err := range c.WatchJob(ctx, team.Id, job.Id) {
		check(err)
		if j.Progress < progress {
			fmt.Println("progress went back")
		}
		progress, job = j.Progress, j
	}
	fmt.Println(job.Status, job.Progress)
	// Output:
	// succeeded 100
}

func ExampleClient_Events() {
	ctx := context.Background()
	c, team := setUp()

	// Once Events returns, everything that happens in the team is on the
	// stream.
	stream, err := c.Events(ctx, team.Id)
	check(err)
	defer stream.Close()

	file, err := c.UploadFile(ctx, team.Id, "notes.txt", strings.NewReader("some notes\n"))
	check(err)
	job, err := c.CreateJob(ctx, team.Id, conveyor.JobCreate{FileId: &file.Id, Processor: "inspect"})
	check(err)

	for ev, err := range stream.All() {
		check(err)
		switch ev.Type {
		case conveyor.EventTypeFileCreated:
			fmt.Println(ev.Type, ev.File.Name)
		case conveyor.EventTypeJobUpdated:
			if ev.Job.Id == job.Id && ev.Job.Final() {
				fmt.Println(ev.Type, ev.Job.Status)
				return
			}
		case conveyor.EventTypeReset:
			// Events were missed: re-read the files and jobs shown.
		}
	}
	// Output:
	// file.created notes.txt
	// job.updated succeeded
}

func ExampleClient_Files() {
	ctx := context.Background()
	c, team := setUp()
	for _, name := range []string{"a.txt", "b.txt", "c.txt", "photo.png"} {
		_, err := c.UploadFile(ctx, team.Id, name, strings.NewReader("content of "+name))
		check(err)
	}

	// Newest first, two to a page, the pages fetched as the loop goes.
	limit := conveyor.Limit(2)
	prefix := ""
	for f, err := range c.Files(ctx, team.Id, &conveyor.ListFilesParams{Limit: &limit}) {
		check(err)
		fmt.Print(prefix, f.Name)
		prefix = " "
	}
	fmt.Println()
	// Output:
	// photo.png c.txt b.txt a.txt
}

func ExampleClient_OpenJobOutput() {
	ctx := context.Background()
	c, team := setUp()
	file, err := c.UploadFile(ctx, team.Id, "photo.png", bytes.NewReader(examplePNG(64, 32)))
	check(err)
	job, err := c.CreateJob(ctx, team.Id, conveyor.JobCreate{FileId: &file.Id, Processor: "thumbnail",
		Params: &map[string]any{"max_width": 16, "max_height": 16}})
	check(err)
	job, err = c.WaitForJob(ctx, team.Id, job.Id, 200*time.Millisecond)
	check(err)

	outputs, err := c.JobOutputs(ctx, team.Id, job.Id)
	check(err)
	for _, o := range outputs {
		fmt.Println(o.Name, o.ContentType)
	}
	thumb, err := c.OpenJobOutput(ctx, team.Id, job.Id, outputs[0].Name)
	check(err)
	defer thumb.Close()
	cfg, format, err := image.DecodeConfig(thumb)
	check(err)
	fmt.Printf("%s %dx%d\n", format, cfg.Width, cfg.Height)
	// Output:
	// thumbnail.png image/png
	// png 16x8
}

func ExampleClient_RetryJob() {
	ctx := context.Background()
	c, team := setUp()
	// Not an image: the thumbnail processor fails on it.
	file, err := c.UploadFile(ctx, team.Id, "notes.txt", strings.NewReader("not an image\n"))
	check(err)
	job, err := c.CreateJob(ctx, team.Id, conveyor.JobCreate{FileId: &file.Id, Processor: "thumbnail"})
	check(err)
	job, err = c.WaitForJob(ctx, team.Id, job.Id, 200*time.Millisecond)
	check(err)
	fmt.Println(job.Status, job.Error.Code, job.Attempts)

	job, err = c.RetryJob(ctx, team.Id, job.Id)
	check(err)
	fmt.Println(job.Status)
	job, err = c.WaitForJob(ctx, team.Id, job.Id, 200*time.Millisecond)
	check(err)
	fmt.Println(job.Status, job.Error.Code, job.Attempts)

	// A finished job cannot be cancelled.
	_, err = c.CancelJob(ctx, team.Id, job.Id)
	var p *conveyor.Problem
	if errors.As(err, &p) {
		fmt.Println("cancel:", p.Status, p.Type)
	}
	// Output:
	// failed invalid_input 1
	// queued
	// failed invalid_input 2
	// cancel: 409 https://conveyor.dev/problems/conflict
}

// examplePNG returns a w×h PNG image.
func examplePNG(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.RGBA{R: uint8(4 * x), G: uint8(8 * y), B: 128, A: 255})
		}
	}
	var b bytes.Buffer
	check(png.Encode(&b, img))
	return b.Bytes()
}
