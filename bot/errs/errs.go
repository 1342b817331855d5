// Package errs gives errors a kind: what they mean for the person who gave
// a command. Replies and metrics follow the kind.
package errs

import (
	"errors"
	"fmt"
)

// Kind is what an error means for the person who gave the command; the
// reply and the metrics follow it.
type Kind int

const (
	// KindFailed: the bot could not do it (a host or cluster failed); trying
	// again may work. Errors of no kind are taken to be this.
	KindFailed Kind = iota
	// KindUsage: the command line is wrong; the reply shows the usage.
	KindUsage
	// KindInvalid: the command is well formed but asks for something that
	// cannot be (no such workload, a change that does not build).
	KindInvalid
	// KindRefused: the bot will not do it by design (not merged, already
	// deployed, files changed since); nothing is wrong with the bot.
	KindRefused
	// KindBug: the bot broke its own rules (objects it generated do not
	// validate, a panic).
	KindBug
)

func (k Kind) String() string {
	switch k {
	case KindUsage:
		return "usage"
	case KindInvalid:
		return "invalid"
	case KindRefused:
		return "refused"
	case KindBug:
		return "bug"
	}
	return "failed"
}

// Error is an error with a kind. Msg is written for the commenter.
type Error struct {
	Kind Kind
	Msg  string
	Err  error // the cause, for logs
}

func (e *Error) Error() string {
	if e.Err != nil && e.Msg == "" {
		return e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Usage is a malformed command.
func Usage(format string, args ...any) error {
	return &Error{Kind: KindUsage, Msg: fmt.Sprintf(format, args...)}
}

// Invalid is a well-formed command that asks for what cannot be.
func Invalid(format string, args ...any) error {
	return &Error{Kind: KindInvalid, Msg: fmt.Sprintf(format, args...)}
}

// Refused is a command the bot declines; the message says why.
func Refused(format string, args ...any) error {
	return &Error{Kind: KindRefused, Msg: fmt.Sprintf(format, args...)}
}

// Bug wraps an error that means the bot is wrong.
func Bug(err error) error {
	return &Error{Kind: KindBug, Err: err}
}

// KindOf returns an error's kind: that of the first *Error in its chain,
// KindFailed otherwise.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindFailed
}
