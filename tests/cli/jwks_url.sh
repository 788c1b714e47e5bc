#!/usr/bin/env bash
# Black-box tests of `latchkey jwt verify --jwks https://...` against real servers on
# loopback: a TLS server (python3 http.server wrapped in ssl, with a self-signed certificate
# made by `openssl req` here) and a plain HTTP one, both serving the same valid JWKS and
# redirecting on request.
#
# The story: the key set is what every verdict rests on. If an https JWKS URL may be
# redirected to http, anyone on the path of that second request (or anyone who can plant a
# redirect) serves their own keys and every token they sign verifies. So an https URL may
# redirect only to https; the same-scheme redirect still works, an http URL may go to http
# or https, and the peer is always verified (--cacert names the test CA; without it the
# self-signed server is refused).
. "$(dirname "$0")/tap.bash"

if ! command -v openssl >/dev/null; then
	echo "1..0 # SKIP openssl not found"
	exit 0
fi

SECRET_HEX=$(python3 -c 'import os; print(os.urandom(32).hex())')
K=$(py 'import sys; print(lkt.b64u(bytes.fromhex(sys.argv[1])))' "$SECRET_HEX")
write_file "$TMP/jwks.json" '{"keys":[{"kty":"oct","kid":"k1","alg":"HS256","k":"'"$K"'"}]}'
TOK=$(py 'import sys; print(lkt.token({"alg": "HS256", "kid": "k1"}, {"sub": "alice"}, bytes.fromhex(sys.argv[1])))' "$SECRET_HEX")

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$TMP/tls.key" -out "$TMP/tls.crt" 2>/dev/null
check "openssl req made a self-signed certificate for 127.0.0.1" test -s "$TMP/tls.crt"

# One server: serves /jwks.json; /to-http and /to-https answer 302 to the other scheme's
# (or its own) /jwks.json. argv: port, tls port, http port, jwks file, [cert key].
cat >"$TMP/srv.py" <<'PYEOF'
import http.server, ssl, sys
port, tls_port, http_port, body = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), open(sys.argv[4], "rb").read()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        to = {"/to-http": "http://127.0.0.1:%d/jwks.json" % http_port,
              "/to-https": "https://127.0.0.1:%d/jwks.json" % tls_port}.get(self.path)
        if to:
            self.send_response(302)
            self.send_header("Location", to)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/jwks.json":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
    def log_message(self, fmt, *a):  # one line per request, for the test to count
        sys.stderr.write("%s\n" % self.requestline)
        sys.stderr.flush()
srv = http.server.HTTPServer(("127.0.0.1", port), H)
if len(sys.argv) > 5:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[5], sys.argv[6])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PYEOF

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
	for _ in $(seq 1 50); do
		python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5)' "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
TLS_PORT=$(free_port)
HTTP_PORT=$(free_port)
python3 "$TMP/srv.py" "$TLS_PORT" "$TLS_PORT" "$HTTP_PORT" "$TMP/jwks.json" "$TMP/tls.crt" "$TMP/tls.key" >"$TMP/tls.log" 2>&1 &
CLEANUP_PIDS+=($!)
python3 "$TMP/srv.py" "$HTTP_PORT" "$TLS_PORT" "$HTTP_PORT" "$TMP/jwks.json" >"$TMP/http.log" 2>&1 &
CLEANUP_PIDS+=($!)
check "the TLS server listens on 127.0.0.1:$TLS_PORT" wait_port "$TLS_PORT"
check "the HTTP server listens on 127.0.0.1:$HTTP_PORT" wait_port "$HTTP_PORT"
HTTPS=https://127.0.0.1:$TLS_PORT
HTTP=http://127.0.0.1:$HTTP_PORT

# ---- the peer is verified; --cacert names the CA to trust
run jwt verify --jwks "$HTTPS/jwks.json" "$TOK"
expect_usage "https JWKS from a self-signed server, without --cacert -> 2"
run jwt verify --jwks "$HTTPS/jwks.json" --cacert "$TMP/tls.crt" "$TOK"
expect_valid "https JWKS with --cacert naming its certificate -> exit 0"
run jwt verify --jwks "$HTTPS/jwks.json" --cacert "$TMP/does-not-exist.pem" "$TOK"
expect_usage "--cacert naming a missing file -> 2"

# ---- redirects
run jwt verify --jwks "$HTTP/jwks.json" "$TOK"
expect_valid "control: the http URL the redirect points to serves a good JWKS -> exit 0"

asked=$(grep -c 'GET /jwks.json' "$TMP/http.log")
run jwt verify --jwks "$HTTPS/to-http" --cacert "$TMP/tls.crt" "$TOK"
expect_usage "https JWKS URL redirecting to http -> 2"
check "... the message says the redirect to http was refused" \
	test "$ERR" = "latchkey: --jwks: cannot fetch $HTTPS/to-http: refused its redirect to $HTTP/jwks.json (an https URL may only redirect to https)"
check "... and the http server was not asked for the keys" \
	test "$(grep -c 'GET /jwks.json' "$TMP/http.log")" -eq "$asked"

run jwt verify --jwks "$HTTPS/to-https" --cacert "$TMP/tls.crt" "$TOK"
expect_valid "https JWKS URL redirecting to https -> exit 0"

run jwt verify --jwks "$HTTP/to-https" --cacert "$TMP/tls.crt" "$TOK"
expect_valid "http JWKS URL redirecting to https -> exit 0"

run jwt verify --jwks "$HTTP/to-http" "$TOK"
expect_valid "http JWKS URL redirecting to http -> exit 0"

done_testing
