package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyprep/keyprep/internal/bench"
	"github.com/keyprep/keyprep/internal/bench/api"
)

// FuzzRequestDecoding sends arbitrary bodies, content types and query
// strings to the API's decoding endpoints (reveal-pin, clear, jobs and
// snapshot paging, upload) with the token: every answer is JSON with a
// status the endpoint documents, a refused body reveals nothing, and
// nothing panics.
func FuzzRequestDecoding(f *testing.F) {
	f.Add(0, "adele.vance@contoso.test", "application/json", `{"confirm":true}`)
	f.Add(0, "adele.vance@contoso.test", "application/json", `{"confirm":false,"confirm":true}`)
	f.Add(0, "x", "application/json", `{"confirm":true} x`)
	f.Add(1, "", "application/json", `{"failed":true,"batch":"b1"}`)
	f.Add(1, "", "application/json", `{"batch":"b1"}{"batch":"b2"}`)
	f.Add(2, "state=failed,pending&offset=3&limit=2", "", "")
	f.Add(3, "state=all&results=5", "", "")
	f.Add(4, "name=x.csv", "text/csv", "upn,displayName\nalice@contoso.test,\"A\"\n")
	f.Add(4, "", "multipart/form-data; boundary=zz", "--zz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\nupn\nb@contoso.test\r\n--zz--\r\n")
	eng := newFakeEngine(1)
	eng.addResult(bench.Result{UPN: "adele.vance@contoso.test", JobID: "j"}, "482913")
	const token = "0123456789abcdef0123456789abcdef"
	srv, err := api.New(eng, api.Options{Token: token, Addr: "127.0.0.1:8765"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(srv.Close)
	allowed := map[int][]int{
		0: {200, 400, 404, 415},
		1: {200, 400, 404, 409},
		2: {200, 400},
		3: {200, 400},
		4: {200, 400, 413, 415},
	}
	f.Fuzz(func(t *testing.T, which int, arg, ct, body string) {
		which = ((which % 5) + 5) % 5
		var method, target string
		switch which {
		case 0:
			if arg == "" {
				arg = "-" // an empty segment is a path the mux cleans (redirect)
			}
			method, target = "POST", "/api/v1/results/"+strings.ReplaceAll(escapePath(arg), "/", "%2F")+"/reveal-pin"
		case 1:
			method, target = "POST", "/api/v1/jobs/clear"
		case 2:
			method, target = "GET", "/api/v1/jobs?"+arg
		case 3:
			method, target = "GET", "/api/v1/snapshot?"+arg
		case 4:
			method, target = "POST", "/api/v1/jobs?"+arg
		}
		r, err := http.NewRequest(method, "http://127.0.0.1:8765"+target, strings.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		r.RemoteAddr = "127.0.0.1:40000"
		r.Header.Set("Authorization", "Bearer "+token)
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if !containsInt(allowed[which], w.Code) && !(w.Code == 404 && which == 0) {
			t.Fatalf("%s %s (%q, %q): status %d", method, target, ct, body, w.Code)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s %s: not JSON: %q", method, target, w.Body.String())
		}
		if w.Code != 200 && strings.Contains(w.Body.String(), "482913") {
			t.Fatal("a refused reveal carries the PIN")
		}
		if w.Code >= 400 && w.Header().Get("Connection") != "close" {
			t.Fatalf("%d without Connection: close", w.Code)
		}
	})
}

func escapePath(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("@.-_", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
		}
	}
	return b.String()
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
