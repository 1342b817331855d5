package command

import (
	"reflect"
	"testing"
)

func TestParseComment(t *testing.T) {
	cases := []struct {
		name string
		body string
		want []Invocation
	}{
		{"plain", "/deploy podinfo --env staging", []Invocation{{Verb: "deploy", Args: []string{"podinfo", "--env", "staging"}, Line: "/deploy podinfo --env staging"}}},
		{"no args", "/help", []Invocation{{Verb: "help", Line: "/help"}}},
		{"verb is case-insensitive", "/HELP", []Invocation{{Verb: "help", Line: "/HELP"}}},
		{"shell quoting, not a shell", `/deploy a --set 'msg=hello world' --set "x=$(rm -rf /)"`,
			[]Invocation{{Verb: "deploy", Args: []string{"a", "--set", "msg=hello world", "--set", "x=$(rm -rf /)"}, Line: `/deploy a --set 'msg=hello world' --set "x=$(rm -rf /)"`}}},
		{"crlf and trailing space", "thanks!\r\n/help  \r\n", []Invocation{{Verb: "help", Line: "/help"}}},
		{"up to three spaces of indent", "   /help", []Invocation{{Verb: "help", Line: "/help"}}},
		{"indented code block", "    /help", nil},
		{"tab code block", "\t/help", nil},
		{"quoted", "> /deploy podinfo\n>/help", nil},
		{"fenced", "```\n/deploy x\n```\n~~~~\n/help\n~~~~", nil},
		{"fence closes only with its own kind", "```\n~~~\n/help\n```\n/help", []Invocation{{Verb: "help", Line: "/help"}}},
		{"mid-line", "please run /help", nil},
		{"path-like", "//comment\n/ help", nil},
		{"several", "/help\ntext\n/deploy a", []Invocation{{Verb: "help", Line: "/help"}, {Verb: "deploy", Args: []string{"a"}, Line: "/deploy a"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ParseComment(c.body)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("ParseComment(%q)\n got  %#v\n want %#v", c.body, got, c.want)
			}
		})
	}
}

func TestParseCommentUnbalancedQuote(t *testing.T) {
	got := ParseComment(`/deploy a --set 'x=1`)
	if len(got) != 1 || got[0].Err == nil {
		t.Fatalf("want one invocation with a split error, got %#v", got)
	}
}

func FuzzParseComment(f *testing.F) {
	f.Add("/deploy podinfo --chart https://x/y --version 1.0.0 --env staging")
	f.Add("```\n/help\n```")
	f.Add("> /help\n/help 'a")
	f.Fuzz(func(t *testing.T, body string) {
		for _, inv := range ParseComment(body) {
			if inv.Verb == "" || inv.Line == "" || inv.Line[0] != '/' {
				t.Fatalf("bad invocation %#v from %q", inv, body)
			}
		}
	})
}

// A command a reader of the thread cannot see does not run: inside an HTML
// comment, closed on its line, over several lines, or left open.
func TestParseCommentSkipsHTMLComments(t *testing.T) {
	for _, body := range []string{
		"LGTM <!-- /deploy web --image evil:1 -->",
		"<!--\n/deploy web --image evil:1\n-->",
		"Thanks!\n<!-- hidden\n/deploy web --image evil:1",
	} {
		if got := ParseComment(body); len(got) != 0 {
			t.Errorf("%q ran %+v", body, got)
		}
	}
	got := ParseComment("<!-- a note for reviewers -->\n/status web")
	if len(got) != 1 || got[0].Verb != "status" {
		t.Errorf("a visible command after a comment: %+v", got)
	}
}
