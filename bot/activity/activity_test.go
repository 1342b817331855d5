package activity

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

func TestRecentIsNewestFirstAndBounded(t *testing.T) {
	l := New(3)
	for i := 1; i <= 5; i++ {
		l.Add(Entry{What: fmt.Sprint(i)})
	}
	var got []string
	for _, e := range l.Recent() {
		got = append(got, e.What)
		if e.Time.IsZero() {
			t.Errorf("entry %s has no time", e.What)
		}
	}
	if fmt.Sprint(got) != "[5 4 3]" {
		t.Errorf("recent = %v, want [5 4 3]", got)
	}
}

func TestNilAndZeroLogsKeepNothing(t *testing.T) {
	var l *Log
	l.Add(Entry{What: "x"})
	if r := l.Recent(); len(r) != 0 {
		t.Errorf("nil log: %v", r)
	}
	var z Log
	z.Add(Entry{What: "x"})
	if r := z.Recent(); len(r) != 0 {
		t.Errorf("zero log: %v", r)
	}
}

func TestConcurrentAdds(t *testing.T) {
	l := New(50)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				l.Add(Entry{What: "c"})
				l.Recent()
			}
		}()
	}
	wg.Wait()
	if n := len(l.Recent()); n != 50 {
		t.Errorf("kept %d entries, want 50", n)
	}
}

func TestLongTextIsClipped(t *testing.T) {
	l := New(1)
	l.Add(Entry{What: strings.Repeat("é", 400), Detail: strings.Repeat("x", 5000)})
	e := l.Recent()[0]
	if len(e.What) > maxWhat || len(e.Detail) > maxDetail || !utf8.ValidString(e.What) || !strings.HasSuffix(e.Detail, "…") {
		t.Errorf("what %d bytes, detail %d bytes", len(e.What), len(e.Detail))
	}
}
