"""Entry point of the everestctl emulator: command tree, execution, invocation log.

`main(argv)` takes the arguments WITHOUT the program name and returns the exit code (0 or 1).
"""

from __future__ import annotations

import json
import os
import sys
import traceback

from . import accounts, calllog, kube, namespaces, oidc, rbac
from .cobra import Command, CobraError, Exit, FindError, HelpRequested, arbitrary_args, exact_args, no_args, parse_bool
from .output import IO, Ctx, Failure, Logger

try:
    from everest_sandbox import EVEREST_VERSION
except ImportError:  # pragma: no cover - package layout changed
    EVEREST_VERSION = '1.10.0'

CLI_VERSION = 'v' + EVEREST_VERSION
FULL_COMMIT = 'ce3597f3d7a1b2c4e5f60718293a4b5c6d7e8f90'
HELM_REPO = 'https://percona.github.io/percona-helm-charts/'
MASK = '********'
NOT_SUPPORTED = "'{}' is not supported by the sandbox everestctl emulator"


# context -----------------------------------------------------------------------------------------


def _kubeconfig_path(cmd: Command) -> str:
    flg = cmd.flags().lookup('kubeconfig')
    if flg.changed:
        return flg.value
    for var in ('VERBOSE', 'JSON', 'PRETTY'):
        val = os.environ.get(var)
        if val is not None:
            try:
                parse_bool(val)
            except ValueError:
                return ''
    if 'KUBECONFIG' in os.environ:
        return os.environ['KUBECONFIG']
    return '~/.kube/config'


def make_ctx(cmd: Command, io: IO) -> Ctx:
    flags = cmd.flags()
    verbose, as_json = flags.lookup('verbose'), flags.lookup('json')
    pretty = not (verbose.changed or as_json.changed)
    logger = Logger(io, json_mode=bool(as_json.value), debug=bool(verbose.value))
    logger.debug('Debug logging enabled', 'commands/root.go:45')
    return Ctx(io, pretty, logger, _kubeconfig_path(cmd))


def _val(cmd: Command, name: str):
    return cmd.flags().lookup(name).value


def _changed(cmd: Command, name: str) -> bool:
    return cmd.flags().lookup(name).changed


# accounts ----------------------------------------------------------------------------------------


def _validate_credentials(_ctx, cmd, _args, password_flag=None):
    username = _val(cmd, 'username')
    if username:
        accounts.validate_username(username)
    if password_flag and _val(cmd, password_flag):
        accounts.validate_password(_val(cmd, password_flag))


def _accounts_cmd() -> Command:
    grp = Command('accounts', short='Manage Everest accounts', long='Manage Everest accounts', args=exact_args(1), run=lambda ctx, cmd, args: None)
    create = Command(
        'create',
        short='Create a new Everest user account',
        long='Create a new Everest user account',
        example='everestctl accounts create --username user1 --password $USER_PASS',
        args=no_args,
        pre_run=lambda ctx, cmd, args: _validate_credentials(ctx, cmd, args, 'password'),
        run=lambda ctx, cmd, args: accounts.create(ctx, _val(cmd, 'username'), _val(cmd, 'password')),
    )
    create.flag('username', 'string', '', 'Username of the account', 'u')
    create.flag('password', 'string', '', 'Password of the account', 'p')
    setpw = Command(
        'set-password',
        short='Set a new password for an existing Everest user account',
        long='Set a new password for an existing Everest user account',
        example='everestctl accounts set-password --username user1 --new-password $USER_PASS',
        args=no_args,
        pre_run=lambda ctx, cmd, args: _validate_credentials(ctx, cmd, args, 'new-password'),
        run=lambda ctx, cmd, args: accounts.set_password(ctx, _val(cmd, 'username'), _val(cmd, 'new-password')),
    )
    setpw.flag('username', 'string', '', 'Username of the account', 'u')
    setpw.flag('new-password', 'string', '', 'New password for the account', 'p')
    delete = Command(
        'delete',
        short='Delete an existing Everest user account',
        long='Delete an existing Everest user account',
        example='everestctl accounts delete --username user1',
        args=no_args,
        pre_run=_validate_credentials,
        run=lambda ctx, cmd, args: accounts.delete(ctx, _val(cmd, 'username')),
    )
    delete.flag('username', 'string', '', 'Username of the account', 'u')
    lst = Command(
        'list',
        short='List all Everest user accounts',
        long='List all Everest user accounts',
        example='everestctl accounts list --no-headers --columns user,enabled',
        args=no_args,
        run=lambda ctx, cmd, args: accounts.list_accounts(ctx, _val(cmd, 'no-headers'), _val(cmd, 'columns')),
    )
    lst.flag('no-headers', 'bool', False, 'If set, hides table headers')
    lst.flag('columns', 'stringSlice', [], 'Comma-separated list of column names to display. Supported columns: user, capabilities, enabled.')
    initial = Command(
        'initial-admin-password',
        short='Get the initial admin password for Everest UI',
        long='Get the initial admin password for Everest UI',
        args=no_args,
        run=lambda ctx, cmd, args: accounts.initial_admin_password(ctx),
    )
    reset = Command(
        'reset-jwt-keys',
        short='Reset the JWT keys used for Everest user authentication',
        long='Reset the JWT keys used for Everest user authentication',
        args=no_args,
        run=_reset_jwt,
    )
    grp.add(create, lst, delete, setpw, initial, reset)
    return grp


def _reset_jwt(ctx: Ctx, _cmd, _args):
    try:
        accounts.reset_jwt_keys(ctx)
    except Failure as exc:
        if ctx.pretty:  # reference §2.3: the error goes to a no-op logger in pretty mode
            raise Failure(exc.msg, silent=True) from None
        raise


# namespaces --------------------------------------------------------------------------------------


def _ns_flags(cmd: Command, add: bool):
    cmd.flag('disable-telemetry', 'bool', False, 'Disable telemetry', hidden=True)
    cmd.flag('skip-wizard', 'bool', False, 'Skip installation wizard')
    if add:
        cmd.flag('take-ownership', 'bool', False, 'If the specified namespace already exists, take ownership of it')
    cmd.flag('skip-env-detection', 'bool', False, 'Skip detecting Kubernetes environment where Everest is installed')
    cmd.flag('chart-dir', 'string', '', 'Path to the chart directory. If not set, the chart will be downloaded from the repository', hidden=True)
    cmd.flag('helm.repository', 'string', HELM_REPO, 'Helm chart repository to download the Everest charts from')
    cmd.flag('helm.set', 'stringSlice', [], 'Set helm values on the command line (can specify multiple values with commas: key1=val1,key2=val2)')
    cmd.flag('helm.values', 'stringSlice', [], 'Specify values in a YAML file or a URL (can specify multiple)', 'f')
    cmd.flag('operator.mongodb', 'bool', True, 'Install MongoDB operator')
    cmd.flag('operator.postgresql', 'bool', True, 'Install PostgreSQL operator')
    cmd.flag('operator.mysql', 'bool', True, 'Install MySQL operator')
    cmd.flag('operator.xtradb-cluster', 'bool', True, 'Install XtraDB Cluster operator', hidden=True, deprecated='please use --operator.mysql instead')


def _ns_opts(cmd: Command) -> dict:
    flags = cmd.flags()
    mysql, xtradb = flags.lookup('operator.mysql'), flags.lookup('operator.xtradb-cluster')
    pxc = xtradb.value if xtradb.changed and xtradb.seq > mysql.seq else mysql.value
    op_flags = ('operator.mysql', 'operator.xtradb-cluster', 'operator.postgresql', 'operator.mongodb')
    return {
        'skip_wizard': _val(cmd, 'skip-wizard'),
        'take_ownership': bool(flags.lookup('take-ownership') and _val(cmd, 'take-ownership')),
        'ask': not any(_changed(cmd, name) for name in op_flags),
        'pxc': pxc,
        'postgresql': _val(cmd, 'operator.postgresql'),
        'psmdb': _val(cmd, 'operator.mongodb'),
        'telemetry': not _val(cmd, 'disable-telemetry'),
        'chart_dir': _val(cmd, 'chart-dir'),
    }


def _namespaces_cmd() -> Command:
    grp = Command(
        'namespaces',
        short='Managing Everest database namespaces',
        long='Managing Everest database namespaces',
        args=exact_args(1),
        run=lambda ctx, cmd, args: None,
    )
    add = Command(
        'add',
        short='Add a new namespace',
        long='Add a new namespace',
        example='everestctl namespaces add [NAMESPACE] [FLAGS]',
        args=exact_args(1),
        run=lambda ctx, cmd, args: namespaces.add_or_update(ctx, args[0], _ns_opts(cmd), update=False),
    )
    _ns_flags(add, add=True)
    upd = Command(
        'update',
        short='Add database operator to existing namespace managed by Everest',
        long='Add database operator to existing namespace managed by Everest',
        example='everestctl namespaces update [NAMESPACE] --operator.mongodb=true',
        args=exact_args(1),
        run=lambda ctx, cmd, args: namespaces.add_or_update(ctx, args[0], _ns_opts(cmd), update=True),
    )
    _ns_flags(upd, add=False)
    rem = Command(
        'remove',
        short='Remove an existing and managed by Everest namespace',
        long='Remove an existing and managed by Everest namespace',
        example='everestctl namespaces remove [NAMESPACE] [FLAGS]',
        args=exact_args(1),
        run=lambda ctx, cmd, args: namespaces.remove(ctx, args[0], _val(cmd, 'force'), _val(cmd, 'keep-namespace')),
    )
    rem.flag('keep-namespace', 'bool', False, 'If set, the Kubernetes namespace will not be deleted')
    rem.flag('force', 'bool', False, 'If set, the namespace and all its resources (including database clusters) will be removed')
    lst = Command(
        'list',
        short='List namespaces managed by Everest',
        long='List namespaces managed by Everest',
        example='everestctl namespaces list --all',
        args=no_args,
        run=lambda ctx, cmd, args: namespaces.list_namespaces(ctx, _val(cmd, 'all')),
    )
    lst.flag('all', 'bool', False, 'If set, shows all namespaces, including those not managed by Everest', 'a')
    grp.add(add, lst, rem, upd)
    return grp


# settings / rbac ---------------------------------------------------------------------------------


def _read_policy_file(path: str) -> str:
    try:
        with open(path, 'rb') as handle:
            return rbac.policy_from_file_text(handle.read().decode('utf-8', 'replace'))
    except FileNotFoundError:
        raise rbac.PolicyLoadError(f'open {path}: no such file or directory') from None
    except IsADirectoryError:
        raise rbac.PolicyLoadError(f'read {path}: is a directory') from None
    except PermissionError:
        raise rbac.PolicyLoadError(f'open {path}: permission denied') from None


RBAC_CM = kube.path('v1', 'configmaps', 'everest-system', 'everest-rbac')


def _configmap(client: kube.Client) -> dict:
    try:
        return client.get(RBAC_CM).get('data') or {}
    except kube.KubeError as exc:
        raise rbac.PolicyLoadError(str(exc)) from None


def _policy_csv(data: dict) -> str:
    if 'policy.csv' not in data:
        raise rbac.PolicyLoadError('policy.csv not found in ConfigMap')
    return data['policy.csv']


def _rbac_validate(ctx: Ctx, cmd: Command, _args):
    policy_file = _val(cmd, 'policy-file')
    err = None
    try:
        if policy_file:
            text = _read_policy_file(policy_file)
        else:
            try:
                client = kube.Client(ctx.kubeconfig)
            except kube.KubeError as exc:
                ctx.logger.error(str(exc), 'rbac/validate.go:60')
                raise Exit(1) from None
            text = _policy_csv(_configmap(client))
        rbac.enforcer(text)
    except (rbac.PolicyLoadError, rbac.PolicyCheckError) as exc:
        err = f'policy syntax error\n{exc}'
    if err is not None:
        ctx.io.out('\u274c Invalid\n' + err.replace('\n', ' - ') + '\n')
        raise Exit(1)
    ctx.io.out('\u2705 Valid\n\n')


def _rbac_can_check(_ctx, _cmd, args):
    if args[1] not in rbac.ACTIONS:
        raise CobraError(f"invalid action '{args[1]}'. Supported actions: {','.join(rbac.ACTIONS)}")


def _rbac_can(ctx: Ctx, cmd: Command, args):
    subject, action, resource, obj = args
    policy_file = _val(cmd, 'policy-file')
    try:
        if policy_file:
            text = _read_policy_file(policy_file)
        else:
            try:
                client = kube.Client(ctx.kubeconfig)
            except kube.KubeError as exc:
                raise Failure(str(exc)) from None
            data = _configmap(client)
            if data.get('enabled') != 'true':
                ctx.io.out('Yes\n')
                return
            text = _policy_csv(data)
        policy = rbac.enforcer(text)
    except (rbac.PolicyLoadError, rbac.PolicyCheckError) as exc:
        raise Failure(str(exc)) from None
    allowed = policy.enforce(subject, resource, action, rbac.request_object(resource, obj))
    ctx.io.out('Yes\n' if allowed else 'No\n')


def _settings_cmd() -> Command:
    grp = Command('settings', short='Configure Everest settings', long='Configure Everest settings', args=exact_args(1), run=lambda ctx, cmd, args: None)
    rbac_grp = Command('rbac', short='Manage RBAC settings', long='Manage RBAC settings')
    validate = Command(
        'validate',
        short='Validate RBAC policy',
        long='Validate RBAC policy',
        example='everestctl settings rbac validate --policy-file ./my-custom-policy.csv',
        run=_rbac_validate,
    )
    validate.flag('policy-file', 'string', '', 'Path to the policy file to use')
    can = Command(
        'can SUBJECT ACTION RESOURCE SUBRESOURCE',
        short='Test RBAC policy',
        long='Test RBAC policy.\nExamples:\n$ everestctl settings rbac can alice read database-clusters all\n\n'
        '$ everestctl settings rbac can alice read database-clusters my-namespace/my-cluster\n',
        example='everestctl settings rbac can alice read database-clusters all --policy-file ./my-custom-policy.csv',
        args=exact_args(4),
        pre_run=_rbac_can_check,
        run=_rbac_can,
    )
    can.flag('policy-file', 'string', '', 'Path to the policy file to use')
    rbac_grp.add(can, validate)
    oidc_grp = Command('oidc <command> [flags]', short='Manage settings related to OIDC', long='Manage settings related to OIDC', args=exact_args(1))
    configure = Command(
        'configure [flags]',
        short='Configure OIDC settings',
        long='Configure OIDC settings',
        args=no_args,
        example='everestctl settings oidc configure --issuer-url https://example.com --client-id 123456 --scopes openid,profile,email,groups',
        run=lambda ctx, cmd, args: oidc.configure(ctx, _val(cmd, 'issuer-url'), _val(cmd, 'client-id'), _val(cmd, 'scopes')),
    )
    configure.flag('issuer-url', 'string', '', 'OIDC issuer url')
    configure.flag('client-id', 'string', '', 'OIDC application client ID')
    configure.flag('scopes', 'string', oidc.DEFAULT_SCOPES, 'Comma-separated list of scopes')
    oidc_grp.add(configure)
    grp.add(oidc_grp, rbac_grp)
    return grp


# version / unsupported / root ----------------------------------------------------------------------


def _version(ctx: Ctx, cmd: Command, _args):
    info = {'projectName': 'everestctl', 'version': CLI_VERSION, 'fullCommit': FULL_COMMIT}
    if not _val(cmd, 'client-only'):
        try:
            client = kube.Client(ctx.kubeconfig)
        except kube.KubeError as exc:
            raise CobraError(str(exc)) from None
        try:
            version = namespaces.everest_version(client)
        except Failure as exc:
            ctx.logger.error(exc.msg, 'version/version.go:70')
            raise CobraError(exc.msg) from None
        info['serverVersion'] = '[NOT INSTALLED]' if version is None else 'v' + version
    if _val(cmd, 'json'):
        ctx.io.out(json.dumps(info, separators=(',', ':')) + '\n')
        return
    lines = [f"ProjectName: {info['projectName']}", f"Version: {info['version']}", f"FullCommit: {info['fullCommit']}"]
    if 'serverVersion' in info:
        lines.append(f"ServerVersion: {info['serverVersion']}")
    ctx.io.out('\n'.join(lines) + '\n')


def _unsupported(name: str):
    def run(_ctx, _cmd, _args):
        raise Failure(NOT_SUPPORTED.format(name))

    return run


def _completion_cmd() -> Command:
    grp = Command(
        'completion',
        short='Generate the autocompletion script for the specified shell',
        long='Generate the autocompletion script for everestctl for the specified shell.\n'
        "See each sub-command's help for details on how to use the generated script.\n",
        args=no_args,
    )
    for shell in ('bash', 'fish', 'powershell', 'zsh'):
        sub = Command(
            shell,
            short=f'Generate the autocompletion script for {shell}',
            long=f'Generate the autocompletion script for the {shell} shell.',
            args=no_args,
            run=_unsupported(f'completion {shell}'),
        )
        sub.flag('no-descriptions', 'bool', False, 'disable completion descriptions')
        grp.add(sub)
    return grp


def build_root() -> Command:
    root = Command('everestctl', long='everestctl is the command line tool to install and manage Percona Everest.')
    root.flag('verbose', 'bool', False, 'Enable verbose mode', 'v', persistent=True)
    root.flag('json', 'bool', False, 'Set output type to JSON', persistent=True)
    root.flag('kubeconfig', 'string', '~/.kube/config', 'Path to a kubeconfig', 'k', persistent=True)
    install = Command(
        'install', short='Install Percona Everest using Helm', long='Install Percona Everest using Helm', args=no_args, run=_unsupported('install')
    )
    install.flag('skip-wizard', 'bool', False, 'Skip installation wizard')
    install.flag('namespaces', 'string', 'everest', 'Comma-separated namespaces list Percona Everest can manage')
    upgrade = Command(
        'upgrade', short='Upgrade Percona Everest using Helm', long='Upgrade Percona Everest using Helm', args=no_args, run=_unsupported('upgrade')
    )
    uninstall = Command('uninstall', short='Uninstall Percona Everest', long='Uninstall Percona Everest', args=no_args, run=_unsupported('uninstall'))
    version = Command('version', short='Print Everest components version info', long='Print Everest components version info', run=_version)
    version.flag('client-only', 'bool', False, 'Print client version only')
    helpcmd = Command(
        'help [command]',
        short='Help about any command',
        long='Help provides help for any command in the application.\nSimply type everestctl help [path to command] for full details.',
        run=None,
    )
    root.add(_accounts_cmd(), _completion_cmd(), install, _namespaces_cmd(), _settings_cmd(), uninstall, upgrade, version, helpcmd)
    helpcmd.run = _help_run
    return root


def _help_run(ctx: Ctx, cmd: Command, args):
    root = cmd.root()
    try:
        target, _rest = root.find(list(args))
    except CobraError:
        target = None
    if target is None or (args and target is root):
        ctx.io.err(f"Unknown help topic [{' '.join('`' + a + '`' for a in args)}]\n")
        ctx.io.err(root.usage_string())
        return
    ctx.io.out(target.help_string())


# execution ---------------------------------------------------------------------------------------


def execute(root: Command, argv: list[str], io: IO) -> int:
    """cobra ExecuteC + main.go: returns the exit code."""
    try:
        cmd, args = root.find(list(argv))
    except FindError as exc:
        io.err(f'Error: {exc}\n' + f"Run '{exc.cmd.command_path()} --help' for usage.\n" + f'{exc}\n')
        return 1
    flags = cmd.flags()
    ctx = None
    try:
        positional = flags.parse(args)
        if flags.warnings:
            io.err(''.join(flags.warnings))
        if flags.lookup('help').value or not cmd.runnable():
            raise HelpRequested()
        (cmd.args or arbitrary_args)(cmd, positional)
        ctx = make_ctx(cmd, io)
        if cmd.pre_run is not None:
            cmd.pre_run(ctx, cmd, positional)
        cmd.run(ctx, cmd, positional)
        return 0
    except HelpRequested:
        io.out(cmd.help_string())
        return 0
    except CobraError as exc:
        io.err(f'Error: {exc}\n' + cmd.usage_string() + '\n' + f'{exc}\n')
        return 1
    except Failure as exc:
        if not exc.silent:
            if ctx is None:
                ctx = make_ctx(cmd, io)
            ctx.fail(exc.msg, component=_component(cmd))
        return 1
    except Exit as exc:
        return exc.code


def _component(cmd: Command) -> str:
    parent = cmd.parent.name() if cmd.parent is not None else ''
    if parent == 'namespaces':
        return {'add': 'namespace-adder', 'update': 'namespace-adder', 'remove': 'namespace-remover'}.get(cmd.name(), 'namespaces')
    return parent if parent in ('accounts', 'rbac', 'oidc') else cmd.name()


def mask_argv(argv: list[str]) -> list[str]:
    """Mask values of -p / --password / --new-password (all spellings)."""
    out: list[str] = []
    mask_next = False
    for arg in argv:
        if mask_next:
            out.append(MASK)
            mask_next = False
            continue
        if arg == '--':
            out.append(arg)
            continue
        if arg in ('--password', '--new-password'):
            out.append(arg)
            mask_next = True
            continue
        if arg.startswith(('--password=', '--new-password=')):
            out.append(arg.split('=', 1)[0] + '=' + MASK)
            continue
        if arg.startswith('-') and not arg.startswith('--'):
            for i, char in enumerate(arg[1:], 1):
                if char == 'p':
                    rest = arg[i + 1 :]
                    if not rest:
                        mask_next = True
                        out.append(arg)
                    else:
                        out.append(arg[: i + 1] + ('=' if rest.startswith('=') else '') + MASK)
                    break
                if char not in 'vh':
                    out.append(arg)
                    break
            else:
                out.append(arg)
            continue
        out.append(arg)
    return out


def main(argv: list[str] | None = None, stdout=None, stderr=None) -> int:
    """Run one everestctl invocation (argv without the program name); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    invocation = calllog.begin()
    io = IO(stdout, stderr)
    try:
        code = execute(build_root(), argv, io)
    except Exception:  # pylint: disable=broad-except  # an emulator bug must still exit 1 and be logged
        io.err('everestctl emulator internal error:\n' + traceback.format_exc())
        code = 1
    calllog.finish(invocation, mask_argv(argv), code)
    return code
