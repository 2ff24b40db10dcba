package hookbridge

import (
	"strings"
	"testing"
)

func TestAPIKeyID(t *testing.T) {
	id := NewID(PrefixAPIKey)
	key := NewAPIKeySecret(id)
	if got, ok := APIKeyID(key); !ok || got != id {
		t.Fatalf("APIKeyID(%q) = %q, %v; want %q", key, got, ok, id)
	}
	if strings.Contains(key, ".") {
		t.Errorf("key %q holds a dot, which Svix SDKs read as a region", key)
	}
	if NewAPIKeySecret(id) == key {
		t.Error("two keys of one id are equal")
	}
	for _, not := range []string{
		"", "hbk_", NewAdminKey(), "hbk_demo_key_0123456789_abcdefghij",
		"hbk_" + id, "hbk_" + id + "_", "hbk_key_SHORT_secret", "hbpt_x", strings.TrimPrefix(key, "hbk_"),
	} {
		if got, ok := APIKeyID(not); ok {
			t.Errorf("APIKeyID(%q) = %q, true; want no key", not, got)
		}
	}
}

func TestValidScope(t *testing.T) {
	for scope, want := range map[string]bool{
		"admin": true, "read-only": true, "ingest": true, "inbound": true, "app:app_1": true,
		"": false, "app:": false, "Admin": false, "readonly": false, "app": false, "root": false,
	} {
		if got := ValidScope(scope); got != want {
			t.Errorf("ValidScope(%q) = %v, want %v", scope, got, want)
		}
	}
	if id, ok := ScopeApp("app:app_1"); !ok || id != "app_1" {
		t.Errorf("ScopeApp = %q, %v", id, ok)
	}
}
