package inbox

import (
	"context"
	"testing"
	"time"
)

// A delivery is pending from its acceptance to its completion, survives a
// reopen, and is accepted once however often it comes.
func TestAcceptPendingDone(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	d := Delivery{Host: "github", ID: "d-1", Event: "issue_comment", Payload: []byte(`{"action": "created"}`)}
	if first, err := s.Accept(ctx, d); !first || err != nil {
		t.Fatalf("first acceptance: %v %v", first, err)
	}
	if first, _ := s.Accept(ctx, d); first {
		t.Error("a redelivery of a pending delivery was accepted again")
	}
	s.Close()

	s, err = Open(dir) // a restart
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := s.Pending(ctx)
	if err != nil || len(p) != 1 || p[0].ID != "d-1" || string(p[0].Payload) != `{"action": "created"}` {
		t.Fatalf("pending after a restart: %+v %v", p, err)
	}
	if err := s.Done(ctx, "github", "d-1"); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Pending(ctx); len(p) != 0 {
		t.Errorf("still pending: %+v", p)
	}
	if first, _ := s.Accept(ctx, d); first {
		t.Error("a late redelivery of a handled delivery was accepted again")
	}
	// A day later the ID is forgotten.
	s.now = func() time.Time { return time.Now().Add(Remember + time.Hour) }
	s.Done(ctx, "github", "other")
	if first, _ := s.Accept(ctx, d); !first {
		t.Error("an ID was remembered past Remember")
	}
}
