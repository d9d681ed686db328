"""Output streams, pretty lines and a zap-like logger (EF §1.3)."""

from __future__ import annotations

import json
import sys
import time


class IO:
    """stdout/stderr writer (bytes, UTF-8, flushed at once so ordering survives pipes)."""

    def __init__(self, stdout=None, stderr=None):
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr

    @staticmethod
    def _write(stream, text: str):
        buf = getattr(stream, 'buffer', None)
        if buf is not None:
            stream.flush()
            buf.write(text.encode('utf-8'))
            buf.flush()
        else:
            stream.write(text)
            stream.flush()

    def out(self, text: str):
        self._write(self.stdout, text)

    def err(self, text: str):
        self._write(self.stderr, text)


def _utc_now() -> str:
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())


class Logger:
    """zap SugaredLogger stand-in: production (info) or development (debug); json or console encoding."""

    _LEVELS = {'debug': 0, 'info': 1, 'warn': 2, 'error': 3}

    def __init__(self, io: IO, json_mode: bool = False, debug: bool = False, enabled: bool = True):
        self.io = io
        self.json_mode = json_mode
        self.debug_mode = debug
        self.enabled = enabled
        self.fields: dict = {}

    def with_fields(self, **fields) -> 'Logger':
        child = Logger(self.io, self.json_mode, self.debug_mode, self.enabled)
        child.fields = dict(self.fields, **fields)
        return child

    def nop(self) -> 'Logger':
        return Logger(self.io, self.json_mode, self.debug_mode, enabled=False)

    def log(self, level: str, msg: str, caller: str = 'cli/cli.go:1'):
        if not self.enabled:
            return
        if self._LEVELS[level] < (0 if self.debug_mode else 1):
            return
        if self.json_mode:
            rec = {'level': level, 'T': _utc_now(), 'logger': 'everestctl', 'caller': caller, 'msg': msg}
            rec.update(self.fields)
            line = json.dumps(rec, ensure_ascii=False, separators=(',', ':')) + '\n'
        else:
            lvl = level.upper() if self.debug_mode else level
            line = f'{_utc_now()}\t{lvl}\teverestctl\t{caller}\t{msg}'
            if self.fields:
                line += '\t' + json.dumps(self.fields, ensure_ascii=False)
            line += '\n'
        if self.debug_mode and level in ('warn', 'error') and not self.json_mode:
            line += f'github.com/percona/everest/{caller.split(":")[0]}\n\t{caller}\n'
        self.io.err(line)

    def debug(self, msg, caller='cli/cli.go:1'):
        self.log('debug', msg, caller)

    def info(self, msg, caller='cli/cli.go:1'):
        self.log('info', msg, caller)

    def warn(self, msg, caller='cli/cli.go:1'):
        self.log('warn', msg, caller)

    def error(self, msg, caller='cli/cli.go:1'):
        self.log('error', msg, caller)


class Ctx:
    """Per-invocation state: streams, pretty flag, loggers, kubeconfig path."""

    def __init__(self, io: IO, pretty: bool, logger: Logger, kubeconfig: str):
        self.io = io
        self.pretty = pretty
        self.logger = logger
        self.kubeconfig = kubeconfig

    def component(self, name: str) -> Logger:
        """Component logger: a no-op in pretty mode."""
        if self.pretty:
            return self.logger.nop()
        return self.logger.with_fields(component=name)

    def success(self, msg: str):
        if self.pretty:
            self.io.out(f'\u2705 {msg}\n\n')

    def fail(self, err: str, component: str = 'cli', caller: str = 'cli/cli.go:1'):
        """Print an error the way commands do it before os.Exit(1)."""
        if self.pretty:
            self.io.err(f'\u274c {err}\n\n')
        else:
            self.logger.with_fields(component=component).error(err, caller)

    def step_ok(self, desc: str):
        if self.pretty:
            self.io.out(f'\u2705  {desc}\n')

    def step_fail(self, desc: str):
        if self.pretty:
            self.io.out(f'\u274c  {desc}\n')

    def warn_line(self, msg: str):
        self.io.out(f'\u26a0\ufe0f  {msg}\n')


class Failure(Exception):
    """A command failure printed by the command itself (❌ line or error record), then exit 1."""

    def __init__(self, msg: str, silent: bool = False):
        super().__init__(msg)
        self.msg = msg
        self.silent = silent


TTY_ERROR = 'could not open a new TTY: open /dev/tty: no such device or address'


def prompt(_text: str) -> str:
    """Interactive prompts never block in the sandbox: the TUI cannot open /dev/tty (EF §1.5, §8.2)."""
    raise Failure(TTY_ERROR)
