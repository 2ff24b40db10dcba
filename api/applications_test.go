package api

import (
	"net/http"
	"regexp"
	"testing"
)

var timeFormat = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func TestApplicationCRUD(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	created := e.do("POST", "/api/v1/app", obj{"name": "Pizza Place", "uid": "merchant-42", "rateLimit": 10, "metadata": obj{"tier": "gold"}}).
		want(http.StatusCreated).object()
	id := str(created, "id")
	if str(created, "name") != "Pizza Place" || str(created, "uid") != "merchant-42" || created["rateLimit"] != float64(10) {
		t.Errorf("created = %v", created)
	}
	if m, _ := created["metadata"].(map[string]any); m["tier"] != "gold" {
		t.Errorf("metadata = %v", created["metadata"])
	}
	for _, k := range []string{"createdAt", "updatedAt"} {
		if !timeFormat.MatchString(str(created, k)) {
			t.Errorf("%s = %q, want RFC 3339 UTC with milliseconds", k, created[k])
		}
	}

	// By id and by uid.
	for _, ref := range []string{id, "merchant-42"} {
		got := e.do("GET", "/api/v1/app/"+ref, nil).want(http.StatusOK).object()
		if str(got, "id") != id {
			t.Errorf("GET %s: id %v, want %s", ref, got["id"], id)
		}
	}

	// PUT replaces: the absent uid and rate limit are cleared.
	put := e.do("PUT", "/api/v1/app/merchant-42", obj{"name": "Pizza Palace"}).want(http.StatusOK).object()
	if str(put, "name") != "Pizza Palace" || put["uid"] != nil || put["rateLimit"] != nil || str(put, "id") != id {
		t.Errorf("PUT = %v", put)
	}

	// PATCH changes only what is present; null clears.
	e.do("PATCH", "/api/v1/app/"+id, obj{"uid": "merchant-43", "throttleRate": 5}).want(http.StatusOK)
	patched := e.do("PATCH", "/api/v1/app/merchant-43", obj{"metadata": obj{"a": "b"}}).want(http.StatusOK).object()
	if str(patched, "name") != "Pizza Palace" || str(patched, "uid") != "merchant-43" || patched["rateLimit"] != float64(5) {
		t.Errorf("PATCH = %v", patched)
	}
	cleared := e.do("PATCH", "/api/v1/app/"+id, obj{"rateLimit": nil, "uid": nil}).want(http.StatusOK).object()
	if _, ok := cleared["rateLimit"]; ok {
		t.Errorf("rateLimit after null = %v, want absent", cleared["rateLimit"])
	}
	if _, ok := cleared["uid"]; ok {
		t.Errorf("uid after null = %v, want absent", cleared["uid"])
	}

	e.do("DELETE", "/api/v1/app/"+id, nil).want(http.StatusNoContent)
	e.do("GET", "/api/v1/app/"+id, nil).want(http.StatusNotFound)
	e.do("DELETE", "/api/v1/app/"+id, nil).want(http.StatusNotFound)
}

func TestApplicationUIDConflict(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first := e.createApp("one", "shared")

	conflict := e.do("POST", "/api/v1/app", obj{"name": "two", "uid": "shared"}).want(http.StatusConflict).object()
	if conflict["code"] != "conflict" || str(conflict, "detail") == "" {
		t.Errorf("409 body = %v", conflict)
	}

	// get_if_exists answers the existing application, unchanged.
	got := e.do("POST", "/api/v1/app?get_if_exists=true", obj{"name": "two", "uid": "shared"}).want(http.StatusOK).object()
	if str(got, "id") != str(first, "id") || str(got, "name") != "one" {
		t.Errorf("get_if_exists = %v, want the first application", got)
	}
	// ... and creates when there is none.
	e.do("POST", "/api/v1/app?get_if_exists=true", obj{"name": "three", "uid": "new-one"}).want(http.StatusCreated)

	// PATCH to a taken uid is a conflict too.
	other := e.createApp("four", "")
	e.do("PATCH", "/api/v1/app/"+str(other, "id"), obj{"uid": "shared"}).want(http.StatusConflict)
}

func TestApplicationPutCreates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	created := e.do("PUT", "/api/v1/app/merchant-7", obj{"name": "Seven"}).want(http.StatusCreated).object()
	if str(created, "uid") != "merchant-7" {
		t.Errorf("PUT-created uid = %v, want the path's", created["uid"])
	}
	e.do("PUT", "/api/v1/app/merchant-7", obj{"name": "Seven", "uid": "merchant-7"}).want(http.StatusOK)
	// An id-shaped path that names nothing is not a uid to create.
	e.do("PUT", "/api/v1/app/app_01HZZZZZZZZZZZZZZZZZZZZZZZ", obj{"name": "x"}).want(http.StatusNotFound)
}
