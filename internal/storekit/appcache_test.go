package storekit

import (
	"fmt"
	"sync"
	"testing"

	"github.com/hookbridge/hookbridge"
)

func TestAppCache(t *testing.T) {
	app := func(name string) *hookbridge.Application {
		return &hookbridge.Application{ID: "app_1", UID: "shop", Name: name, Metadata: map[string]string{"k": "v"}}
	}
	t.Run("KeepsWhatWasRead", func(t *testing.T) {
		var c AppCache
		_, gen, ok := c.Get(true, "app_1")
		if ok {
			t.Fatal("an empty cache answered")
		}
		c.Put(gen, true, "app_1", app("a"))
		got, _, ok := c.Get(true, "app_1")
		if !ok || got.Name != "a" {
			t.Fatalf("Get = %+v, %v; want a", got, ok)
		}
		if _, _, ok := c.Get(false, "app_1"); ok {
			t.Error("an id answered as a uid")
		}
		got.Name, got.Metadata["k"] = "changed", "changed"
		again, _, _ := c.Get(true, "app_1")
		if again.Name != "a" || again.Metadata["k"] != "v" {
			t.Errorf("a caller's change reached the cache: %+v", again)
		}
	})
	t.Run("AReadRacingAWriteIsNotKept", func(t *testing.T) {
		var c AppCache
		_, gen, _ := c.Get(true, "app_1")
		c.Invalidate() // a write committed while the read was under way
		c.Put(gen, true, "app_1", app("stale"))
		if got, _, ok := c.Get(true, "app_1"); ok {
			t.Fatalf("kept %+v, read before a write", got)
		}
	})
	t.Run("DisabledKeepsNothing", func(t *testing.T) {
		var c AppCache
		_, gen, _ := c.Get(true, "app_1")
		c.Put(gen, true, "app_1", app("a"))
		c.Enable(false)
		if _, _, ok := c.Get(true, "app_1"); ok {
			t.Fatal("disabling kept what was cached")
		}
		_, gen, _ = c.Get(true, "app_1")
		c.Put(gen, true, "app_1", app("a"))
		c.Invalidate()
		_, gen, _ = c.Get(true, "app_1")
		c.Put(gen, true, "app_1", app("a"))
		if _, _, ok := c.Get(true, "app_1"); ok {
			t.Fatal("a disabled cache filled (Invalidate must not enable it)")
		}
		c.Enable(true)
		_, gen, _ = c.Get(true, "app_1")
		c.Put(gen, true, "app_1", app("a"))
		if _, _, ok := c.Get(true, "app_1"); !ok {
			t.Fatal("an enabled cache did not fill")
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		var c AppCache
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 500 {
					key := fmt.Sprint(i % 7)
					if _, gen, ok := c.Get(g%2 == 0, key); !ok {
						c.Put(gen, g%2 == 0, key, app(key))
					}
					switch i % 50 {
					case 0:
						c.Invalidate()
					case 25:
						c.Enable(i%100 == 25)
					}
				}
			})
		}
		wg.Wait()
	})
}
