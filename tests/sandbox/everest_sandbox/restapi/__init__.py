"""Everest REST API emulator (reference §6 and §7): ``EverestApiServer`` acts like the Everest server.

It is a Kubernetes client of the API emulator (HTTP + bearer token, never its in-process store) and
serves ``/v1`` on its own random port on 127.0.0.1. See ``server.py`` for what is emulated and how it
differs from the real server.
"""

from .server import EverestApiServer  # noqa: F401
