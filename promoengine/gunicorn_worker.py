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
"""

import mmap
import struct
import time

from gunicorn.workers.gthread import ThreadWorker

SLOTS = 512  # worker "ages" modulo this: gunicorn numbers every worker it starts
_ENTRY = struct.Struct("=iid")  # pid, open connections, last seen (time.monotonic(), the same clock in every process)
# Anonymous shared memory, created when the master imports this module (to load the worker class), so
# every worker forked from it sees the same board.
_board = mmap.mmap(-1, SLOTS * _ENTRY.size)

STALE_AFTER = 3.0  # seconds without news: a worker has gone (workers publish at least once a second)
YIELD_FOR = 0.005  # the longest a worker leaves a waiting connection to its siblings
DECLINE_PAUSE = 0.0005  # between looks while a sibling takes it


class BalancedThreadWorker(ThreadWorker):
    """gthread, but a new connection goes to the worker holding the fewest (see the module's text)."""

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
