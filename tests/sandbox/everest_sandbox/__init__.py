"""Sandbox for the virakcloud.everest collection: a Kubernetes API emulator and an everestctl emulator.

* ``everest_sandbox.kubeapi`` -- threaded HTTP server speaking enough of the Kubernetes API for the
  official clients and kubectl (``KubeApiServer``).
* ``everest_sandbox.everestctl`` -- CLI emulator acting through that API.
* ``everest_sandbox.launcher`` -- ``python -m everest_sandbox start|stop|status|serve --dir DIR`` and the
  helpers the pytest fixture shares with it.
"""

DEFAULT_ADMIN_PASSWORD = 'everest-admin-sandbox'
EVEREST_VERSION = '1.10.0'
