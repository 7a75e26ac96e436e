"""gunicorn's threaded worker, sharing keep-alive connections fairly with its sibling processes.

Every gthread worker watches the one listening socket, and whichever process wakes first accepts: a burst
of new connections (a load balancer reconnecting after a deploy, a POS fleet opening their sessions, a
benchmark's clients) lands on one process. With keep-alive those connections stay there, and one
process can use only one core for Python, while its siblings idle: its clients wait, and the slowest
answers of the whole server get several times slower (gunicorn issues 2817, 3071, 3433).

Here each worker publishes how many connections it holds on a small board of shared memory (made in
the master before it forks), and leaves a new connection to a sibling that holds fewer. A worker never
waits long for a sibling: if none has taken the connection after a few milliseconds (a sibling busy or
stuck), it accepts it itself. Workers that stop publishing (dead, replaced) drop off the board.

Two more things gunicorn leaves to the application, done here for every response:
- the answer to a HEAD request has the headers of the GET and no body. gunicorn sends whatever the
  application returns, and Django returns the GET's body: on a kept-open connection the client then
  reads that body as the start of its next answer;
- the errors gunicorn answers itself, before the application sees the request (a header over 8 KB is
  431, a malformed request line 400), are in the API's JSON error format instead of an HTML page.
"""

import html
import json
import mmap
import re
import struct
import time
import uuid

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

SLOTS = 512  # worker "ages" modulo this: gunicorn numbers every worker it starts
_ENTRY = struct.Struct("=iid")  # pid, open connections, last seen (time.monotonic(), the same clock in every process)
# Anonymous shared memory, created when the master imports this module (to load the worker class), so
# every worker forked from it sees the same board.
_board = mmap.mmap(-1, SLOTS * _ENTRY.size)

STALE_AFTER = 3.0  # seconds without news: a worker has gone (workers publish at least once a second)
YIELD_FOR = 0.005  # the longest a worker leaves a waiting connection to its siblings
DECLINE_PAUSE = 0.0005  # between looks while a sibling takes it


# gunicorn's own errors, keyed as core.middleware keys Django's
ERROR_KEYS = {400: "bad_request", 403: "forbidden", 431: "request_header_fields_too_large",
              500: "internal_error", 501: "not_implemented"}
_STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3}) ([^\r\n]*)")
_PAGE_TEXT = re.compile(rb"</h1>(.*)</body>", re.DOTALL)


def without_head_bodies(application):
    """The WSGI application, answering HEAD with its GET's status and headers and no body."""

    def app(environ, start_response):
        body = application(environ, start_response)
        if environ.get("REQUEST_METHOD") != "HEAD":
            return body
        try:
            for _chunk in body:  # an application that is a generator calls start_response on its first chunk
                break
        finally:
            if hasattr(body, "close"):
                body.close()
        return []

    return app


class _Page:
    """Stands in for the client's socket while gunicorn writes its HTML error page, and keeps it."""

    def __init__(self):
        self.data = b""

    def gettimeout(self):
        return 0.0

    def setblocking(self, flag):
        pass

    def sendall(self, data):
        self.data += data


def json_error(page: bytes) -> bytes:
    """gunicorn's HTML error answer as the same answer with the API's JSON error body."""
    found = _STATUS_LINE.match(page)
    status, reason = 500, "Internal Server Error"
    if found:
        status, reason = int(found.group(1)), found.group(2).decode("latin-1")
    text = _PAGE_TEXT.search(page)
    details = html.unescape(text.group(1).decode("latin-1")).strip() if text else ""
    request_id = f"v-{uuid.uuid4().hex}"
    body = json.dumps({"code": status, "key": ERROR_KEYS.get(status, "error"), "message": reason,
                       "details": details or reason, "request_id": request_id}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Request-ID: {request_id}\r\n\r\n")
    return head.encode("latin-1") + body


class BalancedThreadWorker(ThreadWorker):
    """gthread, but a new connection goes to the worker holding the fewest, HEAD answers carry no body,
    and gunicorn's own errors are JSON (see the module's text)."""

    def load_wsgi(self):
        super().load_wsgi()
        self.wsgi = without_head_bodies(self.wsgi)

    def handle_error(self, req, client, addr, exc):
        page = _Page()
        super().handle_error(req, page, addr, exc)  # logs, and decides the status as gunicorn does
        try:
            util.write_nonblock(client, json_error(page.data))
        except Exception:  # noqa: BLE001 - the client may be gone, as gunicorn itself allows
            self.log.debug("Failed to send error message.")

    def init_process(self):
        self._slot = self.age % SLOTS
        self._declining_since = None
        self._last_decline = 0.0
        self._publish()
        super().init_process()

    def _publish(self) -> None:
        _ENTRY.pack_into(_board, self._slot * _ENTRY.size, self.pid, max(self.nr_conns, 0), time.monotonic())

    def _fewest_elsewhere(self, now: float) -> int | None:
        fewest = None
        for slot in range(SLOTS):
            pid, connections, seen = _ENTRY.unpack_from(_board, slot * _ENTRY.size)
            if pid and slot != self._slot and now - seen < STALE_AFTER and (fewest is None or connections < fewest):
                fewest = connections
        return fewest

    def _my_turn(self) -> bool:
        now = time.monotonic()
        fewest = self._fewest_elsewhere(now)
        if fewest is None or self.nr_conns <= fewest:
            self._declining_since = None
            return True
        if self._declining_since is None or now - self._last_decline > 10 * DECLINE_PAUSE:
            self._declining_since = now  # a new connection waits: start counting
        self._last_decline = now
        if now - self._declining_since >= YIELD_FOR:  # nobody took it: take it
            self._declining_since = None
            return True
        return False

    def accept(self, server, listener):
        if not self._my_turn():
            time.sleep(DECLINE_PAUSE)  # the listener stays readable: look again in a moment
            return
        super().accept(server, listener)
        self._publish()

    def finish_request(self, fs):
        super().finish_request(fs)
        self._publish()

    def murder_keepalived(self):
        """Runs once per turn of the worker's loop (at least every second): publish the count as it stands."""
        super().murder_keepalived()
        self._publish()
