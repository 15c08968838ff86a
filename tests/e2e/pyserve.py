"""Small HTTP servers for end-to-end tests that need what the fixture does
not serve (authentication, cookies, echoed headers, a forward proxy).

serve(handler_fn) starts a ThreadingHTTPServer on 127.0.0.1, port 0, in a
daemon thread of the test process (the crawler is the one that must run
one thread) and returns a Server with .port, .url(path) and .log, the
requests seen: dicts with method, target, headers (a dict, names in lower
case).  handler_fn(req) gets the same dict and returns (status, headers,
body) with headers a list of (name, value) pairs and body bytes."""

import http.server
import threading


class Server:
    def __init__(self, fn):
        self.fn = fn
        self.log = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Head and body go out in two writes; with Nagle the body
            # waits for the client's delayed ACK, 40 ms a response.
            disable_nagle_algorithm = True

            def log_message(self, *a):
                pass

            def handle_any(self):
                req = {"method": self.command, "target": self.path,
                       "headers": {k.lower(): v for k, v in
                                   self.headers.items()}}
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                with outer.lock:
                    outer.log.append(req)
                try:
                    status, headers, body = outer.fn(req)
                except Exception as e:  # a test bug: say so in a 500
                    status, headers, body = 500, [], repr(e).encode()
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_POST = handle_any

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def url(self, path, host="127.0.0.1"):
        return "http://%s:%d%s" % (host, self.port, path)

    def requests(self):
        with self.lock:
            return list(self.log)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def serve(fn):
    return Server(fn)
