"""A small cobra/pflag look-alike: command tree, flag parsing, help and usage texts.

Only what everestctl needs is implemented, but the texts and the order of checks follow
spf13/cobra v1.10 and spf13/pflag (see reference §1.1-§1.4 and §7).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


class CobraError(Exception):
    """An error that travels back through cobra: `Error: <msg>` + usage + repeat in main."""


class HelpRequested(Exception):
    """pflag's ErrHelp: print the help of the command on stdout, exit 0."""


class Exit(Exception):
    """os.Exit(code) from inside a command."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


_TRUE = ('1', 't', 'T', 'TRUE', 'true', 'True')
_FALSE = ('0', 'f', 'F', 'FALSE', 'false', 'False')


def parse_bool(value: str) -> bool:
    """Go strconv.ParseBool."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def go_quote(text: str) -> str:
    """Go ``strconv.Quote`` (``%q`` of a string)."""
    out = []
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append('\\' + char)
        elif char in '\a\b\f\n\r\t\v':
            out.append('\\' + 'abfnrtv'['\a\b\f\n\r\t\v'.index(char)])
        elif code < 0x20 or code == 0x7F:
            out.append(f'\\x{code:02x}')
        elif not char.isprintable() and char != ' ':
            out.append(f'\\u{code:04x}' if code <= 0xFFFF else f'\\U{code:08x}')
        else:
            out.append(char)
    return '"' + ''.join(out) + '"'


@dataclass
class Flag:
    """One pflag flag. kind is bool, string or stringSlice."""

    name: str
    kind: str
    default: object
    usage: str
    shorthand: str = ''
    hidden: bool = False
    deprecated: str = ''
    value: object = None
    changed: bool = False
    seq: int = 0

    def __post_init__(self):
        self.value = list(self.default) if isinstance(self.default, list) else self.default

    @property
    def no_opt_def_val(self) -> str:
        return 'true' if self.kind == 'bool' else ''

    @property
    def def_value(self) -> str:
        if self.kind == 'bool':
            return 'true' if self.default else 'false'
        if self.kind == 'stringSlice':
            return '[' + ','.join(self.default) + ']'
        return str(self.default)

    def is_zero_default(self) -> bool:
        return self.def_value in ('false', '', '[]', '0', '<nil>')

    def set(self, value: str):
        if self.kind == 'bool':
            self.value = parse_bool(value)
        elif self.kind == 'stringSlice':
            items = [] if value == '' else [v.strip('"') for v in value.split(',')]
            self.value = items if not self.changed else self.value + items
        else:
            self.value = value
        self.changed = True

    def type_name(self) -> str:
        return {'bool': '', 'string': 'string', 'stringSlice': 'strings'}[self.kind]


class FlagSet:
    """Ordered flag set with pflag's parsing rules (interspersed, ContinueOnError)."""

    def __init__(self):
        self.flags: dict[str, Flag] = {}
        self.warnings: list[str] = []
        self.counter = 0

    def add(self, flg: Flag):
        self.flags[flg.name] = flg

    def lookup(self, name: str) -> Flag | None:
        return self.flags.get(name)

    def by_short(self, short: str) -> Flag | None:
        for flg in self.flags.values():
            if flg.shorthand == short:
                return flg
        return None

    def _set(self, flg: Flag, value: str):
        try:
            flg.set(value)
        except ValueError as exc:
            name = f'-{flg.shorthand}, --{flg.name}' if flg.shorthand else f'--{flg.name}'
            raise CobraError(f'invalid argument {go_quote(value)} for {go_quote(name)} flag: {exc}') from None
        self.counter += 1
        flg.seq = self.counter
        if flg.deprecated:
            self.warnings.append(f'Flag --{flg.name} has been deprecated, {flg.deprecated}\n')

    def parse(self, args: list[str]) -> list[str]:
        """Parse flags, return the positional arguments. Raises CobraError."""
        positional: list[str] = []
        args = list(args)
        while args:
            arg = args.pop(0)
            if len(arg) < 2 or arg[0] != '-':
                positional.append(arg)
                continue
            if arg[1] == '-':
                if len(arg) == 2:
                    positional.extend(args)
                    break
                args = self._parse_long(arg, args)
            else:
                args = self._parse_short(arg, args)
        return positional

    def _parse_long(self, arg: str, args: list[str]) -> list[str]:
        name = arg[2:]
        if not name or name[0] in '-=':
            raise CobraError(f'bad flag syntax: {arg}')
        name, eq, value = name.partition('=')
        flg = self.flags.get(name)
        if flg is None:
            if name == 'help':
                raise HelpRequested()
            raise CobraError(f'unknown flag: --{name}')
        if eq:
            pass
        elif flg.no_opt_def_val:
            value = flg.no_opt_def_val
        elif args:
            value = args.pop(0)
        else:
            raise CobraError(f'flag needs an argument: {arg}')
        self._set(flg, value)
        return args

    def _parse_short(self, arg: str, args: list[str]) -> list[str]:
        shorthands = arg[1:]
        rest = args
        while shorthands:
            char = shorthands[0]
            flg = self.by_short(char)
            if flg is None:
                if char == 'h':
                    raise HelpRequested()
                raise CobraError(f"unknown shorthand flag: '{char}' in -{shorthands}")
            if len(shorthands) > 2 and shorthands[1] == '=':
                value, next_shorts = shorthands[2:], ''
            elif flg.no_opt_def_val:
                value, next_shorts = flg.no_opt_def_val, shorthands[1:]
            elif len(shorthands) > 1:
                value, next_shorts = shorthands[1:], ''
            elif args:
                # pflag passes the original args to every shorthand in the group
                value, next_shorts, rest = args[0], '', args[1:]
            else:
                raise CobraError(f"flag needs an argument: '{char}' in -{shorthands}")
            self._set(flg, value)
            shorthands = next_shorts
        return rest

    def usages(self) -> str:
        """pflag FlagUsages: sorted, hidden skipped, aligned usage column."""
        lines = []
        maxlen = 0
        for name in sorted(self.flags):
            flg = self.flags[name]
            if flg.hidden:
                continue
            line = f'  -{flg.shorthand}, --{flg.name}' if flg.shorthand else f'      --{flg.name}'
            varname, usage = _unquote_usage(flg)
            if varname:
                line += ' ' + varname
            maxlen = max(maxlen, len(line))
            if not flg.is_zero_default():
                if flg.kind == 'string':
                    usage += f' (default {go_quote(flg.def_value)})'
                else:
                    usage += f' (default {flg.def_value})'
            if flg.deprecated:
                usage += f' (DEPRECATED: {flg.deprecated})'
            lines.append((line, usage))
        out = []
        for line, usage in lines:
            # pflag: Fprintln(line, spacing, usage) with spacing = maxlen+1-len(line)
            out.append(line + ' ' + ' ' * (maxlen + 1 - len(line)) + ' ' + usage + '\n')
        return ''.join(out)


def _unquote_usage(flg: Flag) -> tuple[str, str]:
    usage = flg.usage
    match = re.search(r'`([^`]*)`', usage)
    if match:
        return match.group(1), usage[: match.start()] + match.group(1) + usage[match.end() :]
    return flg.type_name(), usage


# argument validators ---------------------------------------------------------------------------


def no_args(cmd: 'Command', args: list[str]):
    if args:
        raise CobraError(f'unknown command {go_quote(args[0])} for {go_quote(cmd.command_path())}')


def exact_args(num: int):
    def check(_cmd: 'Command', args: list[str]):
        if len(args) != num:
            raise CobraError(f'accepts {num} arg(s), received {len(args)}')

    return check


def arbitrary_args(_cmd: 'Command', _args: list[str]):
    return None


@dataclass
class Command:
    """A cobra command. run(cmd, args) may raise CobraError (RunE) or Exit."""

    use: str
    short: str = ''
    long: str = ''
    example: str = ''
    run: object = None
    pre_run: object = None
    args: object = None
    hidden: bool = False
    aliases: list = field(default_factory=list)
    parent: 'Command | None' = None
    commands: list = field(default_factory=list)
    local_flags: FlagSet = field(default_factory=FlagSet)
    persistent_flags: FlagSet = field(default_factory=FlagSet)
    _flags: FlagSet | None = None
    max_name_len: int = 0

    def name(self) -> str:
        return self.use.split(' ', 1)[0]

    def add(self, *cmds: 'Command'):
        for cmd in cmds:
            cmd.parent = self
            self.commands.append(cmd)
            self.max_name_len = max(self.max_name_len, len(cmd.name()))

    def root(self) -> 'Command':
        return self if self.parent is None else self.parent.root()

    def command_path(self) -> str:
        return self.name() if self.parent is None else self.parent.command_path() + ' ' + self.name()

    def runnable(self) -> bool:
        return self.run is not None

    def flag(self, name, kind, default, usage, shorthand='', hidden=False, deprecated='', persistent=False):
        target = self.persistent_flags if persistent else self.local_flags
        target.add(Flag(name, kind, default, usage, shorthand, hidden, deprecated))

    def init_help_flag(self):
        if 'help' not in self.local_flags.flags:
            self.local_flags.add(Flag('help', 'bool', False, f'help for {self.name()}', 'h'))

    def inherited_flags(self) -> FlagSet:
        merged = FlagSet()
        node = self.parent
        while node is not None:
            for flg in node.persistent_flags.flags.values():
                if flg.name not in merged.flags:
                    merged.add(flg)
            node = node.parent
        return merged

    def flags(self) -> FlagSet:
        """All flags usable on this command (local + own persistent + inherited persistent)."""
        if self._flags is None:
            self.init_help_flag()
            merged = FlagSet()
            for src in (self.local_flags, self.persistent_flags, self.inherited_flags()):
                for flg in src.flags.values():
                    if flg.name not in merged.flags:
                        merged.add(flg)
            self._flags = merged
        return self._flags

    def visible_commands(self) -> list['Command']:
        return sorted((c for c in self.commands if not c.hidden), key=lambda c: c.name())

    def has_available_subcommands(self) -> bool:
        return any(not c.hidden for c in self.commands)

    # finding ---------------------------------------------------------------------------------
    def _takes_value(self, arg: str, flags: FlagSet) -> bool:
        if arg.startswith('--') and '=' not in arg:
            flg = flags.lookup(arg[2:])
            return not (flg is not None and flg.no_opt_def_val)
        if arg.startswith('-') and '=' not in arg and len(arg) == 2:
            flg = flags.by_short(arg[1:])
            return not (flg is not None and flg.no_opt_def_val)
        return False

    def strip_flags(self, args: list[str]) -> list[str]:
        flags = self.flags()
        commands = []
        args = list(args)
        while args:
            arg = args.pop(0)
            if arg == '--':
                break
            if self._takes_value(arg, flags):
                if len(args) <= 1:
                    break
                args.pop(0)
                continue
            if arg and not arg.startswith('-'):
                commands.append(arg)
        return commands

    def args_minus_first(self, args: list[str], name: str) -> list[str]:
        flags = self.flags()
        pos = 0
        while pos < len(args):
            arg = args[pos]
            if arg == '--':
                break
            if self._takes_value(arg, flags):
                pos += 2
                continue
            if not arg.startswith('-') and arg == name:
                return args[:pos] + args[pos + 1 :]
            pos += 1
        return args

    def find_next(self, name: str) -> 'Command | None':
        for cmd in self.commands:
            if cmd.name() == name or name in cmd.aliases:
                return cmd
        return None

    def find(self, args: list[str]) -> tuple['Command', list[str]]:
        cmd = self
        while True:
            words = cmd.strip_flags(args)
            if not words:
                break
            nxt = cmd.find_next(words[0])
            if nxt is None:
                break
            args = cmd.args_minus_first(args, words[0])
            cmd = nxt
        if cmd.args is None:
            words = cmd.strip_flags(args)
            if cmd.commands and cmd.parent is None and words:
                raise FindError(cmd, f'unknown command {go_quote(words[0])} for {go_quote(cmd.command_path())}' + cmd.suggestions(words[0]))
        return cmd, args

    def suggestions(self, typed: str) -> str:
        found = []
        for cmd in self.commands:
            if cmd.hidden:
                continue
            if _levenshtein(typed.lower(), cmd.name().lower()) <= 2 or cmd.name().lower().startswith(typed.lower()):
                found.append(cmd.name())
        if not found:
            return ''
        return '\n\nDid you mean this?\n' + ''.join(f'\t{name}\n' for name in found)

    # texts -------------------------------------------------------------------------------------
    def use_line(self) -> str:
        use = self.use
        line = use if self.parent is None else self.parent.command_path() + ' ' + use
        if '[flags]' not in line:
            line += ' [flags]'
        return line

    def name_padding(self) -> int:
        if self.parent is None or self.parent.max_name_len < 11:
            return 11
        return self.parent.max_name_len

    def usage_string(self) -> str:
        out = 'Usage:'
        if self.runnable():
            out += '\n  ' + self.use_line()
        if self.has_available_subcommands():
            out += '\n  ' + self.command_path() + ' [command]'
        if self.aliases:
            out += '\n\nAliases:\n  ' + ', '.join([self.name()] + self.aliases)
        if self.example:
            out += '\n\nExamples:\n' + self.example
        if self.has_available_subcommands():
            out += '\n\nAvailable Commands:'
            for cmd in self.visible_commands():
                out += '\n  ' + cmd.name().ljust(cmd.name_padding()) + ' ' + cmd.short
        self.flags()
        local = FlagSet()
        for src in (self.local_flags, self.persistent_flags):
            for flg in src.flags.values():
                local.add(flg)
        local_usage = local.usages()
        if local_usage:
            out += '\n\nFlags:\n' + local_usage.rstrip()
        inherited = self.inherited_flags().usages()
        if inherited:
            out += '\n\nGlobal Flags:\n' + inherited.rstrip()
        if self.has_available_subcommands():
            out += f'\n\nUse "{self.command_path()} [command] --help" for more information about a command.'
        return out + '\n'

    def help_string(self) -> str:
        text = (self.long or self.short).rstrip()
        out = text + '\n\n' if text else ''
        if self.runnable() or self.commands:
            out += self.usage_string()
        return out


class FindError(CobraError):
    """Error raised by Command.find: printed with `Run '<path> --help' for usage.` instead of usage."""

    def __init__(self, cmd: Command, msg: str):
        super().__init__(msg)
        self.cmd = cmd


def _levenshtein(left: str, right: str) -> int:
    prev = list(range(len(right) + 1))
    for i, lch in enumerate(left, 1):
        cur = [i]
        for j, rch in enumerate(right, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (lch != rch)))
        prev = cur
    return prev[-1]
