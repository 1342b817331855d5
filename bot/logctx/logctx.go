// Package logctx carries a request's logger in its context, so code deep in
// a command logs with the delivery, host, repository, thread and user that
// the handler put on it.
package logctx

import (
	"context"
	"log/slog"
)

type key struct{}

// With returns ctx carrying log.
func With(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, key{}, log)
}

// From returns the logger of ctx, or slog.Default().
func From(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(key{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return slog.Default()
}
