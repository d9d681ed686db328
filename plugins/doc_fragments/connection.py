# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Kubernetes connection options, named as in kubernetes.core.
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to one kubeconfig file.
      - When not set, the V(KUBECONFIG) environment variable is used (a colon-separated list is merged like
        C(kubectl) does), then C(~/.kube/config), then the in-cluster service account.
      - Can also be set with the E(K8S_AUTH_KUBECONFIG) environment variable.
      - everestctl is always given one kubeconfig file pointing at the same cluster; when the connection comes
        from several files or from O(host)/O(api_key), a private copy is made. On Linux it is an anonymous memory file
        that everestctl inherits (nothing is written to disk, so even a killed module leaves nothing behind);
        elsewhere a temporary file (mode 0600) removed when the module ends, also on SIGTERM, SIGINT and SIGHUP.
      - A kubeconfig that gives a CA (C(certificate-authority) or C(certificate-authority-data)) and also
        C(insecure-skip-tls-verify) is refused, as C(kubectl) refuses it; the same holds for O(ca_cert) with
        O(validate_certs=false). A cluster's C(tls-server-name) is used for SNI and certificate verification.
    type: path
  context:
    description:
      - The kubeconfig context to use; the current context when not set.
      - Can also be set with the E(K8S_AUTH_CONTEXT) environment variable.
    type: str
  host:
    description:
      - URL of the Kubernetes API server, for example V(https://k8s.example.com:6443).
      - Overrides the server of the kubeconfig. Can also be set with the E(K8S_AUTH_HOST) environment variable.
    type: str
  api_key:
    description:
      - Bearer token to authenticate with the API server.
      - Can also be set with the E(K8S_AUTH_API_KEY) environment variable.
    type: str
  validate_certs:
    description:
      - Whether to verify the API server's TLS certificate.
      - Defaults to the kubeconfig's C(insecure-skip-tls-verify) setting (verify unless it says otherwise).
      - Can also be set with the E(K8S_AUTH_VERIFY_SSL) environment variable.
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description:
      - Path to a CA certificate (PEM) used to verify the API server.
      - Can also be set with the E(K8S_AUTH_SSL_CA_CERT) environment variable.
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Path to a client certificate (PEM) used to authenticate with the API server.
      - Can also be set with the E(K8S_AUTH_CERT_FILE) environment variable.
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path to the key of O(client_cert).
      - Can also be set with the E(K8S_AUTH_KEY_FILE) environment variable.
    type: path
    aliases: [key_file]
  allow_http_credentials:
    description:
      - Credentials (a token, basic auth, an exec plugin's token) are never sent to an API server over plain
        C(http), except to a loopback address (V(localhost), V(127.0.0.1), V(::1)); such a connection fails with a
        message instead. Set V(true) to allow it anyway, for a network path that is protected otherwise.
      - Can also be set with the E(VIRAKCLOUD_EVEREST_ALLOW_HTTP_CREDENTIALS) environment variable.
    type: bool
    default: false
requirements:
  - PyYAML
  - kubernetes (Python library) only for kubeconfig users that use a legacy C(auth-provider)
notes:
  - The modules talk to the Kubernetes API with a small built-in JSON client (not the C(kubernetes) library, whose import
    alone costs about 0.2 s per task). Token, token file, client certificates, exec credential plugins and in-cluster
    service accounts are supported directly.
  - An exec credential plugin's C(env) entries must be maps with a string C(name) and C(value); the token and key it
    returns are masked in every output; a 401 answer runs the plugin again once (its credential may have expired).
"""
