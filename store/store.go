// Package store holds what the Kubernetes-backed stores share: the bot's
// own kinds, payload packing, and the replicas' Leases that say which
// replica is alive, so that the work a lost replica held (a delivery, a
// verification, the alert lock) is taken over by another.
//
// The stores themselves live next to what they keep: forge/inbox (webhook
// deliveries), sync/verify (pending verifications), bot/alerts (cooldowns
// and counts). Each object names its holder (a replica) in a label; a
// replica claims an object whose holder's Lease has expired by updating it
// at the resourceVersion it read, so of two replicas only one wins.
package store

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The bot's kinds (deploy/base/crd-*.yaml).
var (
	Group           = "gitops-bot.dev"
	Deliveries      = schema.GroupVersionResource{Group: Group, Version: "v1alpha1", Resource: "deliveries"}
	Verifications   = schema.GroupVersionResource{Group: Group, Version: "v1alpha1", Resource: "verifications"}
	AlertStates     = schema.GroupVersionResource{Group: Group, Version: "v1alpha1", Resource: "alertstates"}
	APIVersion      = Group + "/v1alpha1"
	HolderLabel     = Group + "/holder"
	ReplicaLabel    = Group + "/replica"
	maxPayloadBytes = 1 << 20 // etcd's default request limit is 1.5 MiB; leave room for the rest of the object
)

// Name is a valid object name derived from key, the same on every replica.
func Name(prefix, key string) string {
	sum := sha256.Sum256([]byte(key))
	return prefix + "-" + hex.EncodeToString(sum[:16])
}

// ErrTooLarge: a payload that, packed, would not fit in one object.
var ErrTooLarge = fmt.Errorf("larger than %d bytes compressed, the most one object holds", maxPayloadBytes)

// Pack compresses b for an object's string field.
func Pack(b []byte) (string, error) {
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(b) //nolint:errcheck // writes to memory
	w.Close()  //nolint:errcheck // writes to memory
	s := base64.StdEncoding.EncodeToString(z.Bytes())
	if len(s) > maxPayloadBytes {
		return "", ErrTooLarge
	}
	return s, nil
}

// Unpack reverses Pack.
func Unpack(s string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	r, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// Identity turns a replica's name (its pod name) into a label value.
func Identity(name string) string {
	if name != "" && len(validation.IsValidLabelValue(name)) == 0 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return "replica-" + hex.EncodeToString(sum[:8])
}
