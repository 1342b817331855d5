// Package md renders the markdown of replies, pull-request bodies and
// checks, keeping quoted user text inert.
package md

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Replies and pull request bodies quote user text. These helpers keep that
// text inert: it cannot close a code block, start a table row or ping anyone.

// CodeBlock fences s with more backticks than s contains in a row.
func CodeBlock(lang, s string) string {
	fence := "```"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	return fence + lang + "\n" + strings.TrimRight(s, "\n") + "\n" + fence
}

// Code renders s as inline code on one line.
func Code(s string) string {
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

// Cell makes s safe inside a table cell; an empty s is an empty cell, not
// an empty code span ("“" renders as two backticks).
func Cell(s string) string {
	if s == "" {
		return ""
	}
	return strings.ReplaceAll(Code(s), "|", `\|`)
}

// Mention links a user without notifying them twice in a thread.
func Mention(user string) string { return fmt.Sprintf("@%s", user) }

// Clip shortens s to at most n bytes (on a rune boundary), ending in "…".
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Escape makes s plain text on one line: markdown's specials, HTML and
// mentions stay as written.
func Escape(s string) string {
	s = strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_[]<>|#@~", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
