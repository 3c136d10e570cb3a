package chaos

import (
	"context"

	"github.com/conveyorhq/conveyor/internal/apptest"
	"github.com/conveyorhq/conveyor/internal/auth"
)

// Single is the Target of one API and one worker run in this process
// (apptest) over a devstack with two replicas: its processes cannot be
// SIGKILLed, so those two faults are reported as not injected.
type Single struct{ Env *apptest.Env }

func (s Single) URL() string        { return s.Env.URL }
func (s Single) PrimaryURL() string { return s.Env.Stack.DirectPrimaryURL }

// Token mints a dev token (platform admin when admin) for subject.
func (s Single) Token(subject string, admin bool) (string, error) {
	return mint(auth.DevKeyFile(s.Env.RunDir), s.Env.URL+auth.DevIssuerPath, subject, admin)
}

func mint(keyFile, issuer, subject string, admin bool) (string, error) {
	iss, err := auth.LoadDevIssuer(keyFile, issuer, "api://conveyor")
	if err != nil {
		return "", err
	}
	return iss.Mint(auth.TokenRequest{Subject: subject, Email: subject + "@example.test", Name: subject, Admin: admin}, "Conveyor.Admin")
}

func (s Single) KillAPI(context.Context) error          { return ErrUnsupported }
func (s Single) KillWorker(context.Context) error       { return ErrUnsupported }
func (s Single) StopRedis() error                       { return s.Env.Stack.StopRedis() }
func (s Single) StartRedis(ctx context.Context) error   { return s.Env.Stack.StartRedis(ctx) }
func (s Single) StopReplica() error                     { return s.Env.Stack.StopReplica(1) }
func (s Single) StartReplica(ctx context.Context) error { return s.Env.Stack.StartReplica(ctx, 1) }
func (s Single) StopPrimary() error                     { return s.Env.Stack.StopPrimary() }
func (s Single) StartPrimary(ctx context.Context) error { return s.Env.Stack.StartPrimary(ctx) }
func (s Single) StopS3() error                          { return s.Env.Stack.StopS3() }
func (s Single) StartS3(ctx context.Context) error      { return s.Env.Stack.StartS3(ctx) }
