"""A test OIDC identity provider for the sandbox (``OidcIssuer``) and the JOSE helpers it shares with the Everest
REST API emulator (``jose``). See ``issuer.py`` and ``docs/dev/sandbox-oidc.md``."""

from .issuer import OidcIssuer  # noqa: F401
