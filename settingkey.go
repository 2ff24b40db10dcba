package hookbridge

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// PutRandomSetting stores n random bytes, base64, as the setting name (a
// signing key, such as the dashboard's session key): only if it has no
// value yet (onlyIfAbsent, at first start), or in place of the one it has
// (a rotation, which ends everything signed with the old value).
func PutRandomSetting(ctx context.Context, store SettingStore, name string, n int, onlyIfAbsent bool) error {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("generate %s: %w", name, err)
	}
	if _, err := store.PutSetting(ctx, name, base64.StdEncoding.EncodeToString(b), onlyIfAbsent); err != nil {
		return fmt.Errorf("store %s: %w", name, err)
	}
	return nil
}
