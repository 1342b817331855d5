package command

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/md"
	"github.com/gitops-bot/gitops-bot/forge"
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
	text := errs.Message(err) // no internal address or token in a reply
	// "Nothing was changed" only when it is true.
	nothing := "\n\nNothing was changed."
	var left *forge.LeftBehind
	if errors.As(err, &left) {
		nothing = ""
	}
	switch errs.KindOf(err) {
	case errs.KindUsage:
		if v == nil {
			return fmt.Sprintf("%s: %s", md.Code(line), text), BadArgs
		}
		return fmt.Sprintf("%s: %s\n\nUsage:\n%s", md.Code(line), text, md.CodeBlock("", UsageText(v))), BadArgs
	case errs.KindInvalid:
		return fmt.Sprintf("%s: %s%s", md.Code(line), text, nothing), Bad
	case errs.KindRefused:
		// The verb alone: a refusal does not echo arguments (values a
		// reader of the thread should not see again).
		return fmt.Sprintf("%s: %s", md.Code(VerbOf(line)), text), Refuse
	case errs.KindBug:
		return fmt.Sprintf("%s failed because of a bug in gitops-bot: %s%s\n\nPlease report it.", md.Code(line), text, nothing), Failed
	}
	return fmt.Sprintf("%s failed: %s%s", md.Code(line), text, nothing), Failed
}

// VerbOf is the command word of a command line ("/deploy").
func VerbOf(line string) string {
	if f := strings.Fields(line); len(f) > 0 {
		return f[0]
	}
	return line
}
