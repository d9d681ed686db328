"""Output streams, pretty lines and a zap-like logger (reference §1.3)."""

from __future__ import annotations

import json
import os
import select
import sys
import termios
import time
import tty


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

    def run_steps(self, steps, log: 'Logger'):
        """The spinner (``pkg/cli/tui/spinner.go``): ``(description, function)`` steps in order, ``✅  <desc>`` per
        finished step on stdout (pretty only), ``❌  <desc>`` and stop at the first ``Failure``. ``log`` (the command's
        component logger) gets ``Running step: <desc>`` (debug) and, on a failure, an error record with the step and
        the error, as the real spinner logs them."""
        for desc, func in steps:
            log.debug(f'Running step: {desc}', 'tui/spinner.go:244')
            try:
                func()
            except Failure as exc:
                log.with_fields(step=desc, error=exc.msg).error('Error occurred during step execution', 'tui/spinner.go:246')
                self.step_fail(desc)
                raise
            self.step_ok(desc)


class Failure(Exception):
    """A command failure printed by the command itself (❌ line or error record), then exit 1."""

    def __init__(self, msg: str, silent: bool = False):
        super().__init__(msg)
        self.msg = msg
        self.silent = silent


TTY_ERROR = 'could not open a new TTY: open /dev/tty: no such device or address'
INTERRUPTED = 'user interrupted'


def go_errno_text(exc: OSError) -> str:
    """Go prints syscall errors as the lower-case strerror text (``no such device or address``)."""
    text = os.strerror(exc.errno) if exc.errno else str(exc)
    return text[:1].lower() + text[1:]


class Terminal:
    """The keyboard of a bubbletea program (reference §1.5): stdin when it is a terminal, else ``/dev/tty``; in raw mode.

    With neither (no controlling terminal and stdin not a terminal) opening fails at once with the real CLI's
    ``could not open a new TTY: open /dev/tty: ...`` error. Keys come back as one-character strings or the names
    ``enter``, ``backspace``, ``esc``, ``ctrl+c``, ``up``, ``down``, ``tab``, ``eof``, ``other``.
    """

    def __init__(self):
        self.fd = -1
        self._own = False
        self._saved = None

    def __enter__(self) -> 'Terminal':
        try:
            if os.isatty(0):
                self.fd = 0
        except OSError:
            pass
        if self.fd < 0:
            try:
                self.fd = os.open('/dev/tty', os.O_RDWR | os.O_NOCTTY)
            except OSError as exc:
                raise Failure(f'could not open a new TTY: open /dev/tty: {go_errno_text(exc)}') from None
            self._own = True
        try:
            self._saved = termios.tcgetattr(self.fd)
            tty.setraw(self.fd, termios.TCSANOW)
        except termios.error:
            self._saved = None
        return self

    def __exit__(self, *exc):
        if self._saved is not None:
            try:
                termios.tcsetattr(self.fd, termios.TCSANOW, self._saved)
            except termios.error:
                pass
        if self._own:
            os.close(self.fd)
        return False

    def _more(self, timeout: float = 0.03) -> bool:
        return bool(select.select([self.fd], [], [], timeout)[0])

    def key(self) -> str:
        data = os.read(self.fd, 1)
        if not data:
            return 'eof'
        byte = data[0]
        if byte in (0x0D, 0x0A):
            return 'enter'
        if byte in (0x7F, 0x08):
            return 'backspace'
        if byte == 0x03:
            return 'ctrl+c'
        if byte == 0x04:
            return 'eof'
        if byte == 0x09:
            return 'tab'
        if byte == 0x1B:
            if not self._more():
                return 'esc'
            seq = os.read(self.fd, 8)
            return {b'[A': 'up', b'OA': 'up', b'[B': 'down', b'OB': 'down'}.get(seq, 'other')
        if byte < 0x20:
            return 'other'
        if byte >= 0x80:  # a UTF-8 sequence: read its continuation bytes
            need = 1 if byte >= 0xC0 else 0
            need += 1 if byte >= 0xE0 else 0
            need += 1 if byte >= 0xF0 else 0
            while need and self._more(0.2):
                data += os.read(self.fd, 1)
                need -= 1
            return data.decode('utf-8', 'replace')
        return chr(byte)


def prompt(text: str, io: IO | None = None, secret: bool = False) -> str:
    """A text input (reference §1.5): blocks on the terminal until Enter; Esc/Ctrl+C -> ``user interrupted``.

    The prompt and the echo (``*`` per character for secrets, as bubbletea's password mode) go to stdout, as
    bubbletea renders to stdout. Without a terminal this fails at once (reference §8.2)."""
    io = io or IO()
    value = ''
    with Terminal() as term:
        io.out(text)
        while True:
            key = term.key()
            if key == 'enter':
                io.out('\r\n')
                return value
            if key in ('esc', 'ctrl+c', 'eof'):
                io.out('\r\n')
                raise Failure(INTERRUPTED)
            if key == 'backspace':
                if value:
                    value = value[:-1]
                    io.out('\b \b')
            elif len(key) == 1:
                value += key
                io.out('*' if secret else key)


def multi_select(title: str, choices, io: IO | None = None, selected=None) -> list:
    """A multi-select list (the operators prompt of ``namespaces add/update``): every choice pre-selected unless
    ``selected`` says otherwise; ↑/↓ (or k/j) move, space (or x) toggles, Enter confirms, Esc/Ctrl+C -> ``user
    interrupted``. Returns one bool per choice."""
    io = io or IO()
    marks = [True] * len(choices) if selected is None else [bool(v) for v in selected]
    cursor = 0

    def lines():
        return [f'{">" if i == cursor else " "} [{"x" if marks[i] else " "}] {label}' for i, label in enumerate(choices)]

    with Terminal() as term:
        io.out(f'{title}\r\n' + ''.join(f'{line}\r\n' for line in lines()) + '(space: select/unselect, enter: confirm)')
        while True:
            key = term.key()
            if key == 'enter':
                io.out('\r\n')
                return marks
            if key in ('esc', 'ctrl+c', 'eof'):
                io.out('\r\n')
                raise Failure(INTERRUPTED)
            if key in ('up', 'k'):
                cursor = (cursor - 1) % len(choices)
            elif key in ('down', 'j', 'tab'):
                cursor = (cursor + 1) % len(choices)
            elif key in (' ', 'x'):
                marks[cursor] = not marks[cursor]
            else:
                continue
            # redraw the list in place: back to its first line, rewrite every line
            io.out(f'\r\x1b[{len(choices)}A' + ''.join(f'\r\x1b[K{line}\r\n' for line in lines()))
