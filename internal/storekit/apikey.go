package storekit

import (
	"context"
	"fmt"
	"time"

	"github.com/hookbridge/hookbridge"
)

// API keys.

// CreateAPIKey stores k, filling in its ID (if unset) and times; its
// LastUsedAt starts at zero (never used).
func (s *Store) CreateAPIKey(ctx context.Context, k *hookbridge.APIKey) error {
	now := TruncMS(s.now())
	if k.ID == "" {
		k.ID = hookbridge.NewIDAt(hookbridge.PrefixAPIKey, now)
	}
	k.CreatedAt, k.UpdatedAt, k.LastUsedAt = now, now, time.Time{}
	return Err(s.d.APIKeyInsert(ctx, k), "", nil, "create api key")
}

// GetAPIKey finds the key with id.
func (s *Store) GetAPIKey(ctx context.Context, id string) (*hookbridge.APIKey, error) {
	k, err := s.d.APIKeyGet(ctx, id)
	if err != nil {
		return nil, Err(err, "api key", nil, "get api key %s", id)
	}
	return &k, nil
}

// ListAPIKeys pages through the keys by id, oldest first by default.
func (s *Store) ListAPIKeys(ctx context.Context, opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.APIKey], error) {
	return list(opt, "list api keys", func(limit int) ([]hookbridge.APIKey, error) {
		return s.d.APIKeyList(ctx, opt, limit)
	})
}

// RotateAPIKey replaces the key's hash, and returns the key.
func (s *Store) RotateAPIKey(ctx context.Context, id, hash string) (*hookbridge.APIKey, error) {
	k, err := s.d.APIKeyRotate(ctx, id, hash, TruncMS(s.now()))
	if err != nil {
		return nil, Err(err, "api key", nil, "rotate api key %s", id)
	}
	return &k, nil
}

// DeleteAPIKey revokes the key with id.
func (s *Store) DeleteAPIKey(ctx context.Context, id string) error {
	n, err := s.d.APIKeyDelete(ctx, id)
	return oneChanged(n, err, "api key", "delete api key %s", id)
}

// TouchAPIKey records that the key was used at at, at most once per
// APIKeyTouchEvery: a later use within that time changes nothing.
func (s *Store) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	at = TruncMS(at)
	if err := s.d.APIKeyTouch(ctx, id, at, at.Add(-hookbridge.APIKeyTouchEvery)); err != nil {
		return fmt.Errorf("touch api key %s: %w", id, err)
	}
	return nil
}
