"""A ``ThreadingHTTPServer`` on a daemon thread: how the Everest REST API emulator and the test OIDC issuer serve."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer


class ThreadedHTTPServing:
    """Mixin: ``_serve`` starts the server, ``stop`` shuts it down, ``_base_url`` is ``http://host:port``."""

    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def _serve(self, bind: tuple, handler_class, name: str, poll_interval: float):
        httpd = ThreadingHTTPServer(bind, handler_class)
        httpd.daemon_threads = True
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={'poll_interval': poll_interval}, name=name, daemon=True)
        self._thread.start()

    def stop(self):
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def _base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f'http://{host}:{port}'
