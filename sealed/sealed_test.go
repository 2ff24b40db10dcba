package sealed_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hookbridge/hookbridge/sealed"
)

func keys(t *testing.T, list string) *sealed.Keyring {
	t.Helper()
	k, err := sealed.ParseKeys(list)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	a := keys(t, sealed.NewKey())
	v := a.Seal("whsec_abc", "ep_1")
	if !sealed.IsSealed(v) || strings.Contains(v, "whsec_abc") || sealed.KeyID(v) != a.CurrentID() {
		t.Fatalf("sealed %q", v)
	}
	if v2 := a.Seal("whsec_abc", "ep_1"); v2 == v {
		t.Fatal("two seals of one value are equal: the nonce is not fresh")
	}
	got, err := a.Open(v, "ep_1")
	if err != nil || got != "whsec_abc" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	// The row id is bound in: a value copied to another row does not open.
	if _, err := a.Open(v, "ep_2"); err == nil {
		t.Fatal("opened for another row")
	}
	// Altered in any byte, it does not open.
	b := []byte(v)
	b[len(b)-3] ^= 1
	if _, err := a.Open(string(b), "ep_1"); err == nil {
		t.Fatal("opened an altered value")
	}
	// Values stored before any key read as they are, with or without keys.
	for _, k := range []*sealed.Keyring{a, nil} {
		if got, err := k.Open("whsec_plain", "ep_1"); err != nil || got != "whsec_plain" {
			t.Fatalf("plain value: %q, %v", got, err)
		}
	}
	// Without the key: ErrNoKey, naming the key.
	other := keys(t, sealed.NewKey())
	for _, k := range []*sealed.Keyring{other, nil} {
		if _, err := k.Open(v, "ep_1"); !errors.Is(err, sealed.ErrNoKey) || !strings.Contains(err.Error(), a.CurrentID()) {
			t.Fatalf("open without the key: %v", err)
		}
	}
	if _, err := a.Open("hbenc1:nonsense", "ep_1"); err == nil {
		t.Fatal("opened a malformed value")
	}
	// A nil Keyring seals nothing.
	var none *sealed.Keyring
	if got := none.Seal("whsec_abc", "ep_1"); got != "whsec_abc" {
		t.Fatalf("nil keyring sealed: %q", got)
	}
}

func TestRotation(t *testing.T) {
	oldKey, newKey := sealed.NewKey(), sealed.NewKey()
	old := keys(t, oldKey)
	v := old.Seal("secret", "src_1")
	both := keys(t, newKey+", "+oldKey)
	if got, err := both.Open(v, "src_1"); err != nil || got != "secret" {
		t.Fatalf("old value with both keys: %q, %v", got, err)
	}
	if both.Fresh(v) {
		t.Fatal("a value under the old key is fresh")
	}
	w := both.Seal("secret", "src_1")
	if !both.Fresh(w) || sealed.KeyID(w) == sealed.KeyID(v) {
		t.Fatalf("sealed %q with the old key", w)
	}
	var none *sealed.Keyring
	if !none.Fresh("plain") || none.Fresh(w) || old.Fresh("plain") {
		t.Fatal("Fresh of plain values")
	}
}

// TestReplace: a Keyring given a rotated list seals with its new current
// key and still opens what the old list sealed, through the same pointer;
// a Keyring without keys neither takes nor gives keys.
func TestReplace(t *testing.T) {
	oldKey, newKey := sealed.NewKey(), sealed.NewKey()
	held := keys(t, oldKey) // as a store holds it
	v := held.Seal("secret", "ep_1")
	if err := held.Replace(keys(t, newKey+","+oldKey)); err != nil {
		t.Fatal(err)
	}
	w := held.Seal("secret", "ep_1")
	if sealed.KeyID(w) == sealed.KeyID(v) || held.CurrentID() != sealed.KeyID(w) || !held.Fresh(w) || held.Fresh(v) {
		t.Fatalf("after Replace: sealed under %s, current %s, old value under %s", sealed.KeyID(w), held.CurrentID(), sealed.KeyID(v))
	}
	if ids := held.IDs(); len(ids) != 2 || ids[0] != sealed.KeyID(w) || ids[1] != sealed.KeyID(v) {
		t.Fatalf("IDs = %v", ids)
	}
	for _, x := range []string{v, w} {
		if got, err := held.Open(x, "ep_1"); err != nil || got != "secret" {
			t.Fatalf("Open after Replace: %q, %v", got, err)
		}
	}
	if err := held.Replace(keys(t, newKey)); err != nil {
		t.Fatal(err)
	}
	if _, err := held.Open(v, "ep_1"); !errors.Is(err, sealed.ErrNoKey) {
		t.Fatalf("the dropped key still opens: %v", err)
	}
	var none *sealed.Keyring
	if held.Replace(none) == nil || none.Replace(held) == nil {
		t.Fatal("Replace with a nil Keyring accepted")
	}
	if none.IDs() != nil {
		t.Fatal("a nil Keyring has key ids")
	}
}

func TestParseKeys(t *testing.T) {
	if k, err := sealed.ParseKeys("  "); k != nil || err != nil {
		t.Fatalf("empty list: %v, %v", k, err)
	}
	good := sealed.NewKey()
	for _, bad := range []string{"not base64!", "c2hvcnQ=", good + ",", good + "," + good} {
		if _, err := sealed.ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%q) accepted", bad)
		}
	}
}

func TestSealJSON(t *testing.T) {
	type creds struct {
		Secret string `json:"secret"`
	}
	k := keys(t, sealed.NewKey())
	for _, kr := range []*sealed.Keyring{k, nil} {
		b, err := kr.SealJSON(creds{"s3cret"}, "src_1")
		if err != nil {
			t.Fatal(err)
		}
		if (kr != nil) == strings.Contains(string(b), "s3cret") {
			t.Fatalf("SealJSON with keys %v: %s", kr != nil, b)
		}
		var got creds
		if err := k.OpenJSON(b, "src_1", &got); err != nil || got.Secret != "s3cret" {
			t.Fatalf("OpenJSON: %+v, %v", got, err)
		}
	}
}

func TestReseal(t *testing.T) {
	oldKey, newKey := sealed.NewKey(), sealed.NewKey()
	old, both := keys(t, oldKey), keys(t, newKey+","+oldKey)
	secrets := `[{"key":"whsec_a"},{"key":` + quote(old.Seal("whsec_b", "ep_1")) + `,"expires":17}]`
	out, changed, err := both.ResealKeys([]byte(secrets), "ep_1")
	if err != nil || !changed {
		t.Fatalf("ResealKeys: %s, %v, %v", out, changed, err)
	}
	if strings.Contains(string(out), "whsec_") || !strings.Contains(string(out), `"expires":17`) {
		t.Fatalf("resealed secrets %s", out)
	}
	if again, changed, err := both.ResealKeys(out, "ep_1"); err != nil || changed || string(again) != string(out) {
		t.Fatalf("resealing fresh secrets: %s, %v, %v", again, changed, err)
	}
	var none *sealed.Keyring
	if _, _, err := none.ResealKeys(out, "ep_1"); !errors.Is(err, sealed.ErrNoKey) {
		t.Fatalf("without keys: %v", err)
	}

	creds, _ := old.SealJSON(map[string]string{"secret": "s3cret"}, "src_1")
	out, changed, err = both.ResealJSON(creds, "src_1")
	if err != nil || !changed || sealed.KeyID(strings.Trim(string(out), `"`)) != both.CurrentID() {
		t.Fatalf("ResealJSON: %s, %v, %v", out, changed, err)
	}
	var got map[string]string
	if err := both.OpenJSON(out, "src_1", &got); err != nil || got["secret"] != "s3cret" {
		t.Fatalf("resealed credentials open to %v, %v", got, err)
	}
	if _, changed, err := none.ResealJSON([]byte(`{"secret":"x"}`), "src_1"); changed || err != nil {
		t.Fatalf("plain credentials without keys: %v, %v", changed, err)
	}
}

func quote(s string) string { return `"` + s + `"` }
