// Package api is the local HTTP API and web dashboard of the bench daemon
// (`keyprep serve`). It sees the bench only through bench.Engine and uses
// nothing but the standard library (and internal/userlist for its error
// class), so it can be tested with an in-memory engine.
//
// # Threat model
//
// The daemon runs on the bench machine and listens on loopback. The
// operator's browser on that machine talks to it. What must not be
// possible: a web page the operator happens to visit (any origin, including
// other ports of 127.0.0.1) reading or changing bench state, or learning a
// PIN; a DNS-rebinding attack (a hostile name resolving to 127.0.0.1) doing
// the same; another local user without the token using the API.
//
// # Checks, in order, on every request
//
//  1. Host: the Host header must name the listen address: its port with
//     127.0.0.1, localhost or [::1] (or the listen host itself when the
//     daemon was told to bind a specific non-loopback address). Anything
//     else, e.g. a rebinding name like evil.example:PORT, is refused (403
//     bad_host). When the daemon listens on loopback, a request from a
//     non-loopback peer is refused too.
//  2. Origin: a request carrying an Origin header must come from the
//     daemon's own origin, http://HOST (the Host just checked); otherwise
//     403 bad_origin. For /api, Sec-Fetch-Site (sent by modern browsers)
//     must be same-origin or none: this also stops no-cors GETs from other
//     ports of the same host, which are "same-site" and would carry a
//     SameSite=Strict cookie.
//  3. Authentication (/api only): either Authorization: Bearer TOKEN, or
//     the session cookie. Tokens are compared in constant time (through
//     SHA-256, so the length does not leak either). Missing or wrong: 401
//     with WWW-Authenticate: Bearer. A cookie-authenticated request that
//     changes something (any method but GET/HEAD) must also carry a
//     matching Origin header, which browsers always send on such requests.
//
// The static dashboard files need no token (they hold no data) but get the
// same Host and Origin checks and the security headers.
//
// # How the browser gets the token
//
// `keyprep serve` prints http://127.0.0.1:PORT/#token=TOKEN. The fragment
// is never sent to the server, so the token is not in any request line or
// access log, nor in a Referer (Referrer-Policy: no-referrer anyway). The
// dashboard's script reads the fragment, removes it from the address bar
// and history with history.replaceState, and exchanges it with
// POST /api/v1/session (Authorization: Bearer TOKEN) for a random session
// id in a cookie: HttpOnly (no script can read it), SameSite=Strict,
// Path=/, named keyprep_session_PORT so daemons on different ports do not
// clobber each other's cookie (cookies are not isolated by port). Sessions
// live in memory only (a daemon restart means opening the printed URL
// again), expire after Options.SessionTTL, and the server keeps only the
// SHA-256 of each id. EventSource cannot set headers; it works with the
// cookie. DELETE /api/v1/session ends the session. A page opened without
// a fragment shows a token field doing the same exchange.
//
// # Endpoints (all under /api/v1; JSON unless noted)
//
//	POST   /session                       bearer → session cookie (204)
//	DELETE /session                       end the session (204)
//	GET    /keys                          {"keys":[KeyInfo]}
//	GET    /slots                         {"slots":[Slot]}
//	GET    /jobs                          a page of the queue (?state=a,b ?batch=
//	                                      ?offset= ?limit=, at most 1000):
//	                                      {"items","counts","matched","offset",
//	                                      "limit","batches"}
//	POST   /jobs                          a CSV user list: body text/csv (?name=FILE),
//	                                      or multipart/form-data field "file";
//	                                      200 with the Submission (row errors
//	                                      included); 400 bad_csv for a file-level
//	                                      problem; 413 over MaxUploadBytes; one
//	                                      upload is parsed at a time
//	POST   /jobs/retry-failed             {"requeued":N}
//	POST   /jobs/clear                    {"failed":true} and/or {"batch":NAME}:
//	                                      {"cleared":N}; 409 batch_busy
//	GET    /results                       {"results":[Result]}; ?format=csv: a CSV
//	                                      file, cells that a spreadsheet would run
//	                                      as a formula (= + - @ tab CR) prefixed
//	                                      with '
//	POST   /results/{upn}/reveal-pin      body exactly {"confirm":true} (application/json;
//	                                      no other field, no key twice, nothing
//	                                      after it): {"upn":…,"pin":…} with the
//	                                      UPN lower-cased; the only way a PIN
//	                                      reaches the browser
//	GET    /snapshot                      bench.View: slots, counts, one page (the
//	                                      jobs parameters; default the open users),
//	                                      the newest results (?results=N, 100)
//	GET    /events                        text/event-stream: first "event: snapshot"
//	                                      (the bounded view), then each bench.Event as
//	                                      "id: SEQ", "event: TYPE", "data: JSON",
//	                                      "event: view" (counts and page) at most
//	                                      every second while the queue changes;
//	                                      ": ping" comments as heartbeat; beyond
//	                                      Options.MaxStreams clients 503
//
// The stream subscribes before it takes the snapshot, so no event is lost
// between the two; events already reflected in the snapshot may follow it
// and are harmless to apply again (each carries the whole slot, item or
// result). When the engine drops a subscriber that fell behind, the stream
// ends and EventSource reconnects, getting a fresh snapshot. The dashboard
// also reconnects when it sees a gap in the sequence numbers.
//
// # Bounds
//
// Nothing a client sends or the queue holds makes an answer, a log line or
// a connection unbounded: answers about the queue are pages; uploads are
// limited (MaxUploadBytes, every CSV field 1,024 bytes) and parsed one at a
// time; HTTPServer sets header, request, write and idle timeouts, a header
// size limit and a connection cap that closes the oldest connection that
// is idle or has not shown the token, never an authenticated request at
// work; every error closes its connection without reading the rest of a
// declared body; every logged value is cut (maxLogValue) and warnings
// about refused requests are rate-limited.
//
// Errors are {"error":{"code":"…","message":"…"}} with a matching status:
// 400 bad_request/bad_csv/confirm_required, 401 unauthorized, 403
// bad_host/bad_origin/forbidden, 404 not_found, 405 method_not_allowed, 409
// batch_busy, 413 too_large, 415 unsupported_media_type, 500 internal, 501
// not_implemented, 503 unavailable/too_many_streams. Engine errors are
// classified with errors.Is: userlist.ErrFormat → 400, fs.ErrNotExist →
// 404, fs.ErrPermission → 403, errors.ErrUnsupported → 501, context errors
// → 503; a 404 or 5xx from the engine answers a generic message and an
// "id" that the log line with the details carries.
//
// Every response carries Content-Security-Policy (no inline script or
// style, connect only to self, frame-ancestors 'none'), X-Frame-Options
// DENY, X-Content-Type-Options nosniff, Referrer-Policy no-referrer,
// Cross-Origin-Opener-Policy and Cross-Origin-Resource-Policy same-origin;
// API responses also Cache-Control: no-store.
//
// A revealed PIN is logged as the fact "PIN revealed for UPN", never its
// value; the engine audits it. The response buffer is wiped after writing
// (best effort: the browser and the kernel's socket buffers are beyond
// reach). The dashboard shows it in a dialog only and forgets it when the
// dialog closes.
package api
