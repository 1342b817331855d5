package hook

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

func TestQueueRefusesWhenFull(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	q := NewQueue(t.Context(), 1, 1, time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)))
	block := func(context.Context) error { started <- struct{}{}; <-release; return nil }
	if !q.Push("a", block) {
		t.Fatal("first job refused")
	}
	<-started // the worker holds the first job
	if !q.Push("b", block) {
		t.Fatal("queued job refused")
	}
	if q.Push("c", block) {
		t.Error("a full queue took a job")
	}
	close(release)
}

func TestSeen(t *testing.T) {
	s := NewSeen(10, 0)
	if !s.First("a") || s.First("a") {
		t.Error("a repeated id is new")
	}
	s.Forget("a")
	if !s.First("a") {
		t.Error("a forgotten id is not new")
	}
	w := NewSeen(10, time.Millisecond)
	w.First("b")
	time.Sleep(5 * time.Millisecond)
	if !w.First("b") {
		t.Error("an id past its window is not new")
	}
}
