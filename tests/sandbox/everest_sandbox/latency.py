"""The sandbox's latency model: how long the slow parts of a real Everest installation take.

Off by default (every knob 0), so tests stay fast. Set it with environment variables only:

* ``EVEREST_SANDBOX_LATENCY_PROFILE``: ``off`` (default), ``realistic``, or the path of a JSON/YAML file mapping
  knob names to seconds (knobs it leaves out are 0);
* one variable per knob, ``EVEREST_SANDBOX_LATENCY_<KNOB>`` (e.g. ``EVEREST_SANDBOX_LATENCY_NS_ADD_BASE_S=2``),
  which overrides the profile's value;
* ``EVEREST_SANDBOX_LATENCY_SCALE``: a factor applied to every knob after that (``0.01`` turns the realistic
  minutes into a short benchmark run).

``make sandbox-start`` (the launcher) and ``bench/`` pass the variables through: the launcher checks them, applies
``kube_api_s`` to the Kubernetes API emulator (its ``faults.latency_ms``) and hands the rest to the everestctl
emulator through ``DIR/env`` and ``DIR/bin/everestctl``. Where each realistic number comes from:
``docs/dev/latency-model.md``. ``EVEREST_SANDBOX_NS_DELAY_S`` is older and separate: a flat, unscaled number of
seconds slept per namespace by ``namespaces add/update/remove``, added to the model's time.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import yaml

PROFILE_ENV = 'EVEREST_SANDBOX_LATENCY_PROFILE'
SCALE_ENV = 'EVEREST_SANDBOX_LATENCY_SCALE'
ENV_PREFIX = 'EVEREST_SANDBOX_LATENCY_'

# knob -> what it models (all in seconds)
KNOBS = {
    'ns_add_base_s': 'namespaces add, per namespace: Helm install of everest-db-namespace and its post-install hook Job',
    'ns_add_per_operator_s': 'namespaces add, per operator installed: InstallPlan approved and completed, CSV Succeeded',
    'ns_update_base_s': 'namespaces update, per namespace: Helm upgrade and its post-upgrade hook Job',
    'ns_update_per_operator_s': 'namespaces update, per operator added (not already installed)',
    'ns_remove_s': 'namespaces remove, per namespace: Helm uninstall with its pre-delete hook, namespace termination',
    'accounts_s': 'every accounts command: the CLI process and its Kubernetes client set-up',
    'chart_download_s': 'namespaces add/update with an empty chart cache: repository index and chart download',
    'deployment_restart_s': 'restart of Deployment everest-server until it is ready (settings oidc configure, reset-jwt-keys)',
    'kube_api_s': 'every Kubernetes API request (round trip), applied by the Kubernetes API emulator',
}

PROFILES = {
    'off': dict.fromkeys(KNOBS, 0.0),
    # sources and reasoning: docs/dev/latency-model.md
    'realistic': {
        'ns_add_base_s': 15.0,
        'ns_add_per_operator_s': 30.0,
        'ns_update_base_s': 15.0,
        'ns_update_per_operator_s': 30.0,
        'ns_remove_s': 30.0,
        'accounts_s': 0.5,
        'chart_download_s': 3.0,
        'deployment_restart_s': 15.0,
        'kube_api_s': 0.015,
    },
}


class LatencyError(ValueError):
    """A latency variable or profile file that cannot be used (names the variable and the value)."""


def env_name(knob: str) -> str:
    """``ns_add_base_s`` -> ``EVEREST_SANDBOX_LATENCY_NS_ADD_BASE_S``."""
    return ENV_PREFIX + knob.upper()


def env_names() -> tuple:
    return (PROFILE_ENV, SCALE_ENV) + tuple(env_name(knob) for knob in KNOBS)


def _seconds(value, source: str) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise LatencyError(f'{source}: expected a number >= 0, got {value!r}') from None
    if isinstance(value, bool) or not math.isfinite(seconds) or seconds < 0:
        raise LatencyError(f'{source}: expected a number >= 0, got {value!r}')
    return seconds


def _profile_file(path: str) -> dict:
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding='utf-8'))
    except OSError as exc:
        raise LatencyError(f'{PROFILE_ENV}: cannot read profile file {path!r}: {exc.strerror or exc}') from None
    except yaml.YAMLError as exc:
        raise LatencyError(f'{PROFILE_ENV}: profile file {path!r} is not JSON/YAML: {exc}') from None
    if not isinstance(doc, dict):
        raise LatencyError(f'{PROFILE_ENV}: profile file {path!r} must map knob names to seconds')
    unknown = sorted(str(key) for key in doc if key not in KNOBS)
    if unknown:
        raise LatencyError(f'{PROFILE_ENV}: profile file {path!r} has unknown knobs {unknown}; known: {sorted(KNOBS)}')
    values = dict(PROFILES['off'])
    values.update({key: _seconds(value, f'{path}: {key}') for key, value in doc.items()})
    return values


class Model:
    """Resolved knob values (seconds, already scaled), plus where they came from."""

    def __init__(self, values: dict, profile: str = 'off', scale: float = 1.0):
        self.values = {knob: float(values.get(knob, 0.0)) for knob in KNOBS}
        self.profile = profile
        self.scale = scale

    def seconds(self, knob: str) -> float:
        return self.values[knob]

    @property
    def enabled(self) -> bool:
        return any(self.values.values())

    def ns_add(self, operators: int) -> float:
        return self.values['ns_add_base_s'] + operators * self.values['ns_add_per_operator_s']

    def ns_update(self, added_operators: int) -> float:
        return self.values['ns_update_base_s'] + added_operators * self.values['ns_update_per_operator_s']

    def describe(self) -> dict:
        return {'profile': self.profile, 'scale': self.scale, 'seconds': dict(self.values)}


def from_env(environ=None) -> Model:
    """The model the environment asks for; ``LatencyError`` for a bad value."""
    environ = os.environ if environ is None else environ
    profile = (environ.get(PROFILE_ENV) or 'off').strip() or 'off'
    values = dict(PROFILES[profile]) if profile in PROFILES else _profile_file(profile)
    for knob in KNOBS:
        raw = (environ.get(env_name(knob)) or '').strip()
        if raw:
            values[knob] = _seconds(raw, env_name(knob))
    raw_scale = (environ.get(SCALE_ENV) or '').strip()
    scale = _seconds(raw_scale, SCALE_ENV) if raw_scale else 1.0
    return Model({knob: value * scale for knob, value in values.items()}, profile, scale)


def passthrough(environ=None) -> dict:
    """The latency variables set in ``environ``, checked, a profile file path made absolute (for DIR/env and the
    emulator processes, which may run in another directory). ``LatencyError`` for a bad value."""
    environ = os.environ if environ is None else environ
    from_env(environ)
    out = {name: environ[name].strip() for name in env_names() if (environ.get(name) or '').strip()}
    profile = out.get(PROFILE_ENV)
    if profile and profile not in PROFILES:
        out[PROFILE_ENV] = str(Path(profile).resolve())
    return out
