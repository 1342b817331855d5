package errs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"syscall"
)

// Network says in words what kept a call from its answer, and the text of
// the error that says it in the machine's terms (which Message replaces);
// "" when err is not about reaching the other side.
func Network(err error) (words, raw string) {
	var (
		dns     *net.DNSError
		op      *net.OpError
		unknown x509.UnknownAuthorityError
		invalid x509.CertificateInvalidError
		name    x509.HostnameError
		verify  *tls.CertificateVerificationError
	)
	// The dial's own text, where there is one, is what gets replaced.
	if errors.As(err, &op) {
		raw = op.Error()
	}
	switch {
	case errors.As(err, &dns):
		if raw == "" {
			raw = dns.Error()
		}
		if dns.IsNotFound {
			return "its name " + dns.Name + " does not resolve", raw
		}
		return "its name " + dns.Name + " could not be looked up", raw
	case errors.As(err, &verify), errors.As(err, &unknown), errors.As(err, &invalid), errors.As(err, &name):
		return "its TLS certificate is not one this bot trusts", certText(err)
	case op != nil && errors.Is(err, syscall.ECONNREFUSED):
		return "the connection was refused", raw
	case op != nil && errors.Is(err, syscall.ECONNRESET):
		return "the connection was reset", raw
	case op != nil && (errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH)):
		return "there is no route to it", raw
	case op != nil && op.Timeout():
		return "it did not answer in time", raw
	case op != nil:
		return "the connection failed", raw
	case errors.Is(err, context.DeadlineExceeded):
		return "it did not answer in time", context.DeadlineExceeded.Error()
	}
	var timeout interface{ Timeout() bool }
	if errors.As(err, &timeout) && timeout.Timeout() {
		return "it did not answer in time", ""
	}
	return "", ""
}

// certText is the part of err's text a certificate error wrote.
func certText(err error) string {
	s := err.Error()
	if i := strings.Index(s, "tls: "); i >= 0 {
		return s[i:]
	}
	if i := strings.Index(s, "x509: "); i >= 0 {
		return s[i:]
	}
	return ""
}
