package devstack

import (
	"fmt"
	"net"
	"strconv"
)

// pickPorts fills s.Ports from Options.Ports and free loopback ports.
func (s *Stack) pickPorts() error {
	var want Ports
	if s.opts.Ports != nil {
		want = *s.opts.Ports
		want.Replicas = append([]int(nil), s.opts.Ports.Replicas...)
	}
	n := s.opts.Replicas
	if len(want.Replicas) > n {
		want.Replicas = want.Replicas[:n]
	}
	for len(want.Replicas) < n {
		want.Replicas = append(want.Replicas, 0)
	}
	slots := []*int{&want.Primary, &want.PgBouncer, &want.Redis, &want.S3}
	for i := range want.Replicas {
		slots = append(slots, &want.Replicas[i])
	}
	if s.opts.Mail {
		slots = append(slots, &want.SMTP, &want.MailUI)
	}
	if s.opts.WorkerPgBouncer {
		slots = append(slots, &want.WorkerPgBouncer)
	} else {
		want.WorkerPgBouncer = 0
	}
	// Hold every listener until all are picked so the ports are distinct.
	var held []net.Listener
	defer func() {
		for _, l := range held {
			_ = l.Close()
		}
	}()
	for _, slot := range slots {
		if *slot < 0 || *slot > 65535 {
			return fmt.Errorf("devstack: invalid port %d", *slot)
		}
		if *slot != 0 {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("devstack: pick free port: %w", err)
		}
		held = append(held, l)
		tcp, ok := l.Addr().(*net.TCPAddr)
		if !ok {
			return fmt.Errorf("devstack: pick free port: unexpected address %v", l.Addr())
		}
		*slot = tcp.Port
	}
	s.Ports = want
	return nil
}

func pgURL(port int, db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", port, db)
}

func (s *Stack) fillURLs() {
	s.DirectPrimaryURL = pgURL(s.Ports.Primary, "conveyor")
	s.PrimaryURL = pgURL(s.Ports.PgBouncer, "conveyor")
	s.ReplicaURLs = nil
	s.DirectReplicaURLs = nil
	for i, port := range s.Ports.Replicas {
		s.DirectReplicaURLs = append(s.DirectReplicaURLs, pgURL(port, "conveyor"))
		s.ReplicaURLs = append(s.ReplicaURLs, pgURL(s.Ports.PgBouncer, replicaDBName(i)))
	}
	s.WorkerPrimaryURL, s.WorkerReplicaURLs = s.PrimaryURL, s.ReplicaURLs
	if s.opts.WorkerPgBouncer {
		s.WorkerPrimaryURL = pgURL(s.Ports.WorkerPgBouncer, "conveyor")
		s.WorkerReplicaURLs = nil
		for i := range s.Ports.Replicas {
			s.WorkerReplicaURLs = append(s.WorkerReplicaURLs, pgURL(s.Ports.WorkerPgBouncer, replicaDBName(i)))
		}
	}
	s.RedisAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Ports.Redis))
	s.S3Endpoint = "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Ports.S3))
	if s.opts.Mail {
		s.SMTPAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Ports.SMTP))
		s.MailURL = "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Ports.MailUI))
	}
}

func replicaDBName(i int) string { return "conveyor_replica" + strconv.Itoa(i+1) }
