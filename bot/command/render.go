package command

import (
	"errors"
	"fmt"

	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/md"
	"github.com/gitops-bot/gitops-bot/providers/preflight"
)

// Outcome is a command's result as metrics and logs count it.
type Outcome string

const (
	OK      Outcome = "ok"
	Refuse  Outcome = "refused"
	BadArgs Outcome = "usage"
	Bad     Outcome = "invalid"
	Failed  Outcome = "failed"
)

// Render is the one place a command's reply section is written: from the
// verb's result, or from its error by kind. v may be nil (unknown verb).
func Render(line string, v Verb, res Result, err error) (string, Outcome) {
	if err == nil {
		return res.Body, OK
	}
	var pe *preflight.Error
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s: the change does not pass the checks, so I opened nothing.\n\n%s", md.Code(line), md.CodeBlock("", pe.Error())), Bad
	}
	switch errs.KindOf(err) {
	case errs.KindUsage:
		if v == nil {
			return fmt.Sprintf("%s: %s", md.Code(line), err.Error()), BadArgs
		}
		return fmt.Sprintf("%s: %s\n\nUsage:\n%s", md.Code(line), err.Error(), md.CodeBlock("", UsageText(v))), BadArgs
	case errs.KindInvalid:
		return fmt.Sprintf("%s: %s\n\nNothing was changed.", md.Code(line), err.Error()), Bad
	case errs.KindRefused:
		return fmt.Sprintf("%s: %s", md.Code(line), err.Error()), Refuse
	case errs.KindBug:
		return fmt.Sprintf("%s failed because of a bug in gitops-bot: %v\n\nNothing was changed. Please report it.", md.Code(line), err), Failed
	}
	return fmt.Sprintf("%s failed: %v\n\nNothing was changed.", md.Code(line), err), Failed
}
