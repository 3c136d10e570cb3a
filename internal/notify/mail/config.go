package mail

import "github.com/conveyorhq/conveyor/internal/config"

// ConfigFrom returns the relay settings of c (CONVEYOR_SMTP_*), and false
// when no relay is configured (CONVEYOR_SMTP_HOST empty: email is off).
func ConfigFrom(c *config.Config) (Config, bool) {
	if c.SMTPHost == "" {
		return Config{}, false
	}
	return Config{Host: c.SMTPHost, Port: c.SMTPPort, Username: c.SMTPUsername, Password: c.SMTPPassword, From: c.SMTPFrom, TLS: c.SMTPTLS}, true
}
