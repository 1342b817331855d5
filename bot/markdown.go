package bot

import (
	"fmt"
	"strings"
)

// Replies and pull request bodies quote user text. These helpers keep that
// text inert: it cannot close a code block, start a table row or ping anyone.

// codeBlock fences s with more backticks than s contains in a row.
func codeBlock(lang, s string) string {
	fence := "```"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	return fence + lang + "\n" + strings.TrimRight(s, "\n") + "\n" + fence
}

// code renders s as inline code on one line.
func code(s string) string {
	s = strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		pad = " "
	}
	return fence + pad + s + pad + fence
}

// cell makes s safe inside a table cell.
func cell(s string) string {
	return strings.ReplaceAll(code(s), "|", `\|`)
}

// mention links a user without notifying them twice in a thread.
func mention(user string) string { return fmt.Sprintf("@%s", user) }
