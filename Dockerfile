# Static build on a distroless base: no shell, no package manager, non-root.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOFLAGS=-trimpath go build -ldflags "-s -w -X main.version=${VERSION}" -o /out/gitops-bot ./cmd/gitops-bot

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gitops-bot /gitops-bot
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/gitops-bot"]
CMD ["serve", "--config", "/etc/gitops-bot/config.yaml"]
