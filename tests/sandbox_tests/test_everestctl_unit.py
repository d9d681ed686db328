"""Pure unit tests of the everestctl emulator (no cluster): parser, texts, glob, RBAC engine, codecs."""

from __future__ import annotations

import base64
import io
import json
import pathlib

import pytest
import yaml

from everest_sandbox.everestctl import cli, rbac, yamlv2
from everest_sandbox.everestctl.accounts import PASSWORD_ERR, USERNAME_ERR, render_table

FIXTURES = pathlib.Path(__file__).parent / 'fixtures' / 'everestctl'
MISSING_KUBECONFIG = '/nonexistent/everestctl-unit/kubeconfig'


def run(*argv, env=None, monkeypatch=None):
    """Run main() in-process; returns (rc, stdout, stderr)."""
    if monkeypatch is not None:
        for key, value in (env or {}).items():
            if value is None:
                monkeypatch.delenv(key, raising=False)
            else:
                monkeypatch.setenv(key, value)
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _no_call_log(monkeypatch):
    monkeypatch.delenv('EVEREST_SANDBOX_CALL_LOG', raising=False)
    for var in ('VERBOSE', 'JSON', 'PRETTY'):
        monkeypatch.delenv(var, raising=False)


# cobra behaviour -------------------------------------------------------------------------------------


def test_root_help_on_stdout_exit_0():
    code, out, err = run()
    assert code == 0 and err == ''
    assert 'Usage:\n  everestctl [command]\n' in out
    assert '\nAvailable Commands:\n  accounts    Manage Everest accounts\n' in out
    for name in ('completion', 'help', 'install', 'namespaces', 'settings', 'uninstall', 'upgrade', 'version'):
        assert f'\n  {name} ' in out
    assert '  -h, --help                help for everestctl\n' in out
    assert '  -k, --kubeconfig string   Path to a kubeconfig (default "~/.kube/config")\n' in out
    assert out.endswith('Use "everestctl [command] --help" for more information about a command.\n')
    assert run('help')[1] == out
    assert run('--help')[1] == out
    assert run('-h')[1] == out


def test_accounts_bogus_exits_0_silently():
    assert run('accounts', 'bogus') == (0, '', '')
    assert run('namespaces', 'bogus') == (0, '', '')
    assert run('settings', 'bogus') == (0, '', '')


def test_group_without_arg_is_cobra_error():
    code, out, err = run('accounts')
    assert code == 1 and out == ''
    assert err.startswith('Error: accepts 1 arg(s), received 0\nUsage:\n  everestctl accounts [flags]\n')
    assert err.endswith('for more information about a command.\n\naccepts 1 arg(s), received 0\n')


def test_non_runnable_group_prints_help():
    code, out, err = run('settings', 'rbac')
    assert (code, err) == (0, '')
    assert out.startswith('Manage RBAC settings\n\nUsage:\n  everestctl settings rbac [command]\n')
    assert '  can         Test RBAC policy\n  validate    Validate RBAC policy\n' in out


def test_unknown_flag_and_shorthand():
    code, out, err = run('accounts', 'list', '--bogus')
    assert code == 1 and out == ''
    assert err.startswith('Error: unknown flag: --bogus\nUsage:\n  everestctl accounts list [flags]\n')
    assert err.endswith('\n\nunknown flag: --bogus\n')
    code, _out, err = run('accounts', 'create', '-z')
    assert code == 1
    assert err.startswith("Error: unknown shorthand flag: 'z' in -z\n")
    assert err.endswith("\nunknown shorthand flag: 'z' in -z\n")
    code, _out, err = run('accounts', 'create', '-uz')  # -u takes "z" as its value: no flag error
    assert "unknown shorthand" not in err


def test_flag_needs_argument_and_bad_bool():
    code, _out, err = run('accounts', 'create', '--username')
    assert code == 1 and err.startswith('Error: flag needs an argument: --username\n')
    code, _out, err = run('accounts', 'create', '-u')
    assert code == 1 and err.startswith("Error: flag needs an argument: 'u' in -u\n")
    code, _out, err = run('accounts', 'list', '--no-headers=maybe')
    assert code == 1
    assert err.startswith('Error: invalid argument "maybe" for "--no-headers" flag: strconv.ParseBool: parsing "maybe": invalid syntax\n')


def test_unknown_command_with_suggestion():
    code, out, err = run('acounts')
    assert code == 1 and out == ''
    assert err == (
        'Error: unknown command "acounts" for "everestctl"\n\nDid you mean this?\n\taccounts\n\n'
        "Run 'everestctl --help' for usage.\n"
        'unknown command "acounts" for "everestctl"\n\nDid you mean this?\n\taccounts\n\n'
    )


def test_arg_count_errors():
    code, _out, err = run('namespaces', 'add')
    assert code == 1 and err.startswith('Error: accepts 1 arg(s), received 0\n')
    code, _out, err = run('namespaces', 'add', 'a', 'b')
    assert code == 1 and err.startswith('Error: accepts 1 arg(s), received 2\n')
    code, _out, err = run('settings', 'rbac', 'can', 'alice', 'read')
    assert code == 1 and err.startswith('Error: accepts 4 arg(s), received 2\n')
    code, _out, err = run('accounts', 'list', 'extra')
    assert code == 1 and err.startswith('Error: unknown command "extra" for "everestctl accounts list"\n')


def test_flags_before_subcommand_and_equals_forms():
    # -k with a value before the command path, --flag=value, -p=value
    code, _out, err = run('-k', MISSING_KUBECONFIG, 'accounts', 'create', '--username=ab', '-p=secret1')
    assert code == 1 and err == f'\u274c {USERNAME_ERR}\n\n'


def test_help_flag_beats_missing_args_and_never_touches_cluster():
    code, out, err = run('namespaces', 'remove', '--help', '--kubeconfig', MISSING_KUBECONFIG)
    assert (code, err) == (0, '')
    assert out.startswith('Remove an existing and managed by Everest namespace\n\nUsage:\n  everestctl namespaces remove [flags]\n')
    assert '--keep-namespace' in out and '--force' in out


def test_hidden_and_deprecated_flags_not_listed():
    _code, out, _err = run('namespaces', 'add', '--help')
    assert '--operator.mysql ' in out and '--take-ownership' in out
    assert 'xtradb-cluster' not in out and 'disable-telemetry' not in out and 'chart-dir' not in out
    _code, out, _err = run('namespaces', 'update', '--help')
    assert '--take-ownership' not in out


# validation before any cluster access -------------------------------------------------------------------


@pytest.mark.parametrize(
    'argv, expected',
    [
        (('accounts', 'create', '-u', 'ab', '-p', 'bad pw'), USERNAME_ERR),
        (('accounts', 'create', '-u', 'a-b-c', '-p', 'secret1'), USERNAME_ERR),
        (('accounts', 'create', '-u', 'alice', '-p', 'short'), PASSWORD_ERR),
        (('accounts', 'create', '-u', 'alice', '-p', 'with space'), PASSWORD_ERR),
        (('accounts', 'set-password', '-u', 'alice', '--new-password', 'tiny'), PASSWORD_ERR),
        (('accounts', 'delete', '-u', 'a.b'), USERNAME_ERR),
    ],
)
def test_credentials_validated_before_kubeconfig(argv, expected):
    code, out, err = run('--kubeconfig', MISSING_KUBECONFIG, *argv)
    assert (code, out, err) == (1, '', f'\u274c {expected}\n\n')


def test_set_password_has_no_password_flag():
    code, _out, err = run('accounts', 'set-password', '-u', 'alice', '--password', 'secret1')
    assert code == 1 and err.startswith('Error: unknown flag: --password\n')


def test_missing_kubeconfig_text_and_tilde_expansion(monkeypatch, tmp_path):
    monkeypatch.setenv('HOME', str(tmp_path))
    code, out, err = run('accounts', 'list', '-k', '~/nope//cfg')
    assert (code, out) == (1, '')
    assert err == f'\u274c open {tmp_path}/nope/cfg: no such file or directory\ncould not read kubeconfig file\n\n'


def test_kubeconfig_env_default_and_no_colon_list(monkeypatch, tmp_path):
    env = {'KUBECONFIG': f'{tmp_path}/a:{tmp_path}/b'}
    code, _out, err = run('accounts', 'list', env=env, monkeypatch=monkeypatch)
    assert code == 1 and f'open {tmp_path}/a:{tmp_path}/b: no such file or directory' in err
    code, _out, err = run('accounts', 'list', env={'KUBECONFIG': None, 'HOME': str(tmp_path)}, monkeypatch=monkeypatch)
    assert code == 1 and f'open {tmp_path}/.kube/config: no such file or directory' in err
    code, _out, err = run('accounts', 'list', env={'KUBECONFIG': ''}, monkeypatch=monkeypatch)
    assert code == 1 and err.startswith('\u274c read .: is a directory\n')


def test_prompt_without_tty_fails_fast():
    code, out, err = run('accounts', 'create', '-u', 'alice', '-k', MISSING_KUBECONFIG)
    # the kube client is built before the prompt: the kubeconfig error wins
    assert code == 1 and 'could not read kubeconfig file' in err


def test_json_mode_error_is_a_log_record():
    code, out, err = run('--json', '-k', MISSING_KUBECONFIG, 'accounts', 'create', '-u', 'x', '-p', 'secret1')
    assert (code, out) == (1, '')
    rec = json.loads(err)
    assert list(rec)[:5] == ['level', 'T', 'logger', 'caller', 'msg']
    assert rec['level'] == 'error' and rec['logger'] == 'everestctl' and rec['msg'] == USERNAME_ERR
    assert rec['T'].endswith('Z') and len(rec['T']) == 20


def test_json_false_still_disables_pretty():
    code, out, err = run('--json=false', '-k', MISSING_KUBECONFIG, 'accounts', 'create', '-u', 'x', '-p', 'secret1')
    assert (code, out) == (1, '')
    assert '\u274c' not in err and '\terror\t' in err and USERNAME_ERR in err


def test_namespace_list_validation_order():
    kc = ('-k', MISSING_KUBECONFIG)
    assert run('namespaces', 'add', ' , ,', *kc)[2] == '\u274c namespace list is empty. Specify at least one namespace\n\n'
    err = run('namespaces', 'add', 'ok-ns,everest-olm,Bad', *kc)[2]
    assert err == "\u274c 'everest-olm' namespace is reserved for Everest internals. Please specify another namespace\n\n"
    err = run('namespaces', 'remove', 'good, Bad_Name', *kc)[2]
    assert err.startswith("\u274c 'namespace name' is not RFC 1035 compatible. The name should contain only lowercase")
    err = run('namespaces', 'update', 'a' * 64, *kc)[2]
    assert 'is not RFC 1035 compatible' in err
    # valid names: now the kubeconfig is loaded
    assert 'could not read kubeconfig file' in run('namespaces', 'add', 'kube-system,default', *kc)[2]


def test_deprecated_alias_prints_warning():
    code, _out, err = run('namespaces', 'add', 'Bad', '--operator.xtradb-cluster=false', '-k', MISSING_KUBECONFIG)
    assert code == 1
    assert err.startswith('Flag --operator.xtradb-cluster has been deprecated, please use --operator.mysql instead\n')


def test_rbac_can_invalid_action_is_cobra_error(tmp_path):
    code, out, err = run('settings', 'rbac', 'can', 'alice', 'write', 'database-clusters', 'all', '--policy-file', str(tmp_path / 'missing.csv'))
    msg = "invalid action 'write'. Supported actions: create,read,update,delete,*"
    assert (code, out) == (1, '')
    assert err.startswith(f'Error: {msg}\nUsage:\n  everestctl settings rbac can SUBJECT ACTION RESOURCE SUBRESOURCE [flags]\n')
    assert err.endswith(f'\n{msg}\n')


def test_version_client_only():
    code, out, err = run('version', '--client-only')
    assert (code, err) == (0, '')
    lines = out.splitlines()
    assert lines[0] == 'ProjectName: everestctl' and lines[1].startswith('Version: v') and lines[2].startswith('FullCommit: ')
    assert len(lines) == 3
    code, out, _err = run('version', '--client-only', '--json')
    assert code == 0 and set(json.loads(out)) == {'projectName', 'version', 'fullCommit'}


def test_version_without_cluster_is_cobra_error():
    code, out, err = run('version', '-k', MISSING_KUBECONFIG)
    assert (code, out) == (1, '')
    assert err.startswith(f'Error: open {MISSING_KUBECONFIG}: no such file or directory\ncould not read kubeconfig file\nUsage:')


def test_unsupported_commands_fail_clearly():
    code, out, err = run('install')
    assert (code, out) == (1, '') and 'not supported by the sandbox everestctl emulator' in err


# call log --------------------------------------------------------------------------------------------


def test_call_log_masks_secrets(monkeypatch, tmp_path):
    log = tmp_path / 'calls.jsonl'
    monkeypatch.setenv('EVEREST_SANDBOX_CALL_LOG', str(log))
    run('-k', MISSING_KUBECONFIG, 'accounts', 'create', '-u', 'alice', '-p', 'Secret1!')
    run('-k', MISSING_KUBECONFIG, 'accounts', 'create', '-u', 'alice', '--password=Secret2!')
    run('-k', MISSING_KUBECONFIG, 'accounts', 'set-password', '-u', 'alice', '--new-password', 'Secret3!')
    run('-k', MISSING_KUBECONFIG, 'accounts', 'create', '-ualice', '-pSecret4!')
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 4
    text = log.read_text()
    for secret in ('Secret1!', 'Secret2!', 'Secret3!', 'Secret4!'):
        assert secret not in text
    assert records[0]['argv'] == ['-k', MISSING_KUBECONFIG, 'accounts', 'create', '-u', 'alice', '-p', '********']
    assert records[1]['argv'][-1] == '--password=********'
    assert records[2]['argv'][-1] == '********'
    assert records[3]['argv'][-1] == '-p********'
    assert all(r['rc'] == 1 and r['duration_s'] >= 0 and isinstance(r['ts'], float) for r in records)
    # the original four keys stay first (readers rely on them); the timing fields follow
    assert list(records[0]) == ['ts', 'argv', 'rc', 'duration_s', 'start', 'end', 'mono_start', 'mono_end', 'pid', 'latency_s']


def test_mask_argv_shapes():
    masked = cli.mask_argv(['-vp', 'x', '-p=y', '--new-password=z', '--', '-u'])
    assert masked == ['-vp', '********', '-p=********', '--new-password=********', '--', '-u']


# glob / RBAC engine ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    'name, pattern, expected',
    [
        ('ns-a/c1', '*/*', True),
        ('/', '*/*', True),
        ('', '*', True),
        ('ns-a/c1', '*', False),
        ('ns-a/c1', 'ns-a/*', True),
        ('enginefeatures/split-horizon-dns-configs', '*', False),
        ('enginefeatures/split-horizon-dns-configs', '**', True),
        ('a/b/c', '**', True),
        ('a/b/c', 'a/**', True),
        ('a', 'a/**', True),
        ('a/b/c', '**/c', True),
        ('c', '**/c', True),
        ('a/x/y/c', 'a/**/c', True),
        ('a/c', 'a/**/c', True),
        ('ab', 'a?', True),
        ('a/', 'a?', False),
        ('dev-1', 'dev-[0-9]', True),
        ('dev-x', 'dev-[!0-9]', True),
        ('dev-1', 'dev-[^0-9]', False),
        ('read', '{read,update}', True),
        ('delete', '{read,update}', False),
        ('prod/db-2', '{dev,prod}/db-{1,{2,3}}', True),
        ('prod/db-4', '{dev,prod}/db-{1,{2,3}}', False),
        ('a.b', 'a.b', True),
        ('axb', 'a.b', False),
        ('x', '[', False),
        ('x', '[]', False),
        ('*', '*', True),
        ('dev/*', 'dev/*', True),
        # doublestar v4 details (match.go): classes may match the separator; `**` is special only as a whole segment
        # (or right where an alternative was substituted); once the name is used up, only a syntactically
        # zero-length rest (``, `*`, `**`, `/**`, `**/`, `/**/`) may remain.
        ('/', '[!a]', True),
        ('', '**', True),
        ('', '/**', True),
        ('', '***', False),
        ('a', '?**/', True),
        ('a', 'a***', False),
        ('ab', 'a***', True),
        ('ax/y/b', 'a**/b', False),
        ('ax/y/b', 'a{**/b,c}', True),
        ('b', '{,a}b', True),
        ('-', '[a-]', True),
        ('x', '{a,b', False),
    ],
)
def test_glob_match_doublestar(name, pattern, expected):
    assert rbac.glob_match(name, pattern) is expected


def _policy(name):
    return (FIXTURES / name).read_text()


def test_policy_1_can_cases():
    pol = rbac.enforcer(_policy('policy-1-good.csv'))

    def can(sub, act, res, obj):
        return pol.enforce(sub, res, act, rbac.request_object(res, obj))

    for act in ('create', 'read', 'update'):
        assert can('admin', act, 'database-clusters', '*')
        assert can('admin', act, 'database-cluster-backups', '*')
    assert not can('alice', 'create', 'database-clusters', '*')
    assert can('alice', 'read', 'database-engines', '*')
    assert can('alice', 'create', 'database-clusters', 'alice/alice-cluster-1')
    assert not can('bob', 'create', 'database-clusters', '*')
    assert can('bob', 'create', 'database-clusters', 'dev/*')
    assert can('bob', 'create', 'database-clusters', 'dev/bob-1')
    assert not can('bob', 'create', 'database-clusters', 'prod/bob-1')
    assert can('role:admin', 'delete', 'namespaces', 'all')
    assert not can('nobody', 'read', 'namespaces', 'all')


@pytest.mark.parametrize(
    'name, exc, detail',
    [
        ('policy-2-bad.csv', rbac.PolicyLoadError, "invalid policy line 'this is a bad policy'"),
        ('policy-3-bad.csv', rbac.PolicyCheckError, "policy syntax error\ninvalid policy term 'monitoring instances'"),
        ('policy-4-bad.csv', rbac.PolicyCheckError, "policy syntax error\nrole 'role:notexists' does not exist"),
        ('policy-5-bad.csv', rbac.PolicyLoadError, 'invalid policy rule size: expected 4, got 5, rule: [role:admin database-clusters * */* extra]'),
        ('policy-6-bad.csv', rbac.PolicyCheckError, "policy syntax error\nunknown resource name 'non-existent-resource'"),
        ('policy-7-bad.csv', rbac.PolicyLoadError, "invalid policy line 'a, role:admin, database-clusters, *, */*'"),
    ],
)
def test_bad_policies(name, exc, detail):
    with pytest.raises(exc) as info:
        rbac.enforcer(_policy(name))
    assert str(info.value) == detail


@pytest.mark.parametrize(
    'name, expected',
    [
        ('policy-1-good.csv', (0, '\u2705 Valid\n\n')),
        ('policy-2-bad.csv', (1, "\u274c Invalid\npolicy syntax error - invalid policy line 'this is a bad policy'\n")),
        ('policy-3-bad.csv', (1, "\u274c Invalid\npolicy syntax error - policy syntax error - invalid policy term 'monitoring instances'\n")),
        ('policy-6-bad.csv', (1, "\u274c Invalid\npolicy syntax error - policy syntax error - unknown resource name 'non-existent-resource'\n")),
    ],
)
def test_validate_command_with_policy_file(name, expected):
    code, out, err = run('settings', 'rbac', 'validate', '--policy-file', str(FIXTURES / name), 'ignored-extra-arg')
    assert (code, out, err) == (*expected, '')


def test_can_command_with_policy_file_and_errors(tmp_path):
    pol = str(FIXTURES / 'policy-1-good.csv')
    assert run('settings', 'rbac', 'can', 'bob', 'create', 'database-clusters', 'dev/*', '--policy-file', pol) == (0, 'Yes\n', '')
    assert run('settings', 'rbac', 'can', 'bob', 'create', 'database-clusters', 'all', '--policy-file', pol) == (0, 'No\n', '')
    code, out, err = run('settings', 'rbac', 'can', 'a', 'read', 'namespaces', 'x', '--policy-file', str(FIXTURES / 'policy-4-bad.csv'))
    assert (code, out, err) == (1, '', "\u274c policy syntax error\nrole 'role:notexists' does not exist\n\n")
    missing = tmp_path / 'nope.csv'
    code, out, err = run('settings', 'rbac', 'can', 'a', 'read', 'namespaces', 'x', '--policy-file', str(missing))
    assert (code, out, err) == (1, '', f'\u274c open {missing}: no such file or directory\n\n')


def test_policy_file_configmap_shape_and_parsing_rules(tmp_path):
    cm = {'apiVersion': 'v1', 'kind': 'ConfigMap', 'data': {'enabled': 'false', 'policy.csv': 'g, bob, role:admin\n'}}
    path = tmp_path / 'cm.yaml'
    path.write_text(yaml.safe_dump(cm))
    # enabled is ignored with --policy-file: enforcement is on
    assert run('settings', 'rbac', 'can', 'bob', 'delete', 'namespaces', 'all', '--policy-file', str(path))[1] == 'Yes\n'
    assert run('settings', 'rbac', 'can', 'eve', 'read', 'namespaces', 'all', '--policy-file', str(path))[1] == 'No\n'
    # indented comment and whitespace-only lines are not skipped
    for text, line in (('  # comment\n', '  # comment'), ('g, a, role:admin\n   \n', '   ')):
        with pytest.raises(rbac.PolicyLoadError) as info:
            rbac.Policy(text)
        assert str(info.value) == f"invalid policy line '{line}'"
    # quotes, leading spaces trimmed, trailing kept, duplicates dropped
    pol = rbac.Policy('p, "role:x", "database-clusters", read, "ns/*"\np,role:x,database-clusters,read,ns/*\ng, u, role:x\n')
    assert pol.p_rules[0] == ('role:x', 'database-clusters', 'read', 'ns/*')
    assert pol.p_rules.count(pol.p_rules[0]) == 1
    with pytest.raises(rbac.PolicyCheckError):
        rbac.enforcer('p, role:x , database-clusters, read, */*\ng, u, role:x\n')  # trailing space kept -> bad term


def test_term_regex_is_a_range():
    assert rbac.TERM_RE.match('a+b;c<d>e=f?g@h[i\\j]k^l')
    for bad in ('a b', 'a!', 'a#', 'a{b}', 'a|b', 'a~', ''):
        assert not rbac.TERM_RE.match(bad)


# codecs / table ----------------------------------------------------------------------------------------


def test_users_yaml_round_trip_layout():
    raw = bytes(range(200, 232))  # not valid UTF-8
    users = {
        'zed': {'enabled': True, 'capabilities': ['login'], 'passwordMtime': '2026-11-23T11:00:00Z', 'passwordHash': raw},
        'admin': {'enabled': True, 'capabilities': ['login', 'apiKey'], 'passwordMtime': '', 'passwordHash': b'plain-pass'},
        'bob2': {'enabled': False, 'capabilities': [], 'passwordMtime': '', 'passwordHash': b'true'},
    }
    text = yamlv2.dump_users(users)
    assert text == (
        'admin:\n  enabled: true\n  capabilities:\n  - login\n  - apiKey\n  passwordMtime: ""\n  passwordHash: plain-pass\n'
        'bob2:\n  enabled: false\n  capabilities: []\n  passwordMtime: ""\n  passwordHash: "true"\n'
        'zed:\n  enabled: true\n  capabilities:\n  - login\n  passwordMtime: "2026-11-23T11:00:00Z"\n'
        f'  passwordHash: !!binary {base64.b64encode(raw).decode()}\n'
    )
    assert yamlv2.load_users(text) == users


def test_users_yaml_reads_chart_layout():
    text = 'admin:\n  passwordHash: 12345\n  enabled: true\n  capabilities: [login]\n'
    users = yamlv2.load_users(text)
    assert users['admin'] == {'enabled': True, 'capabilities': ['login'], 'passwordMtime': '', 'passwordHash': b'12345'}


def test_yaml_v2_key_order():
    assert yamlv2.sorted_keys(['user10', 'user9', 'Bob', 'alice', '_x', 'a1']) == ['_x', 'Bob', 'a1', 'alice', 'user9', 'user10']


def test_rodaine_table_layout():
    table = render_table(['user', 'capabilities', 'enabled'], [['admin', '[login]', 'true']])
    assert table == 'USER   CAPABILITIES  ENABLED  \nadmin  [login]       true     \n'
    assert render_table(['user'], [], show_header=True) == 'USER  \n'
    shifted = render_table(['user', 'bogus', 'enabled'], [['admin', 'true']])
    assert shifted == 'USER   BOGUS  ENABLED  \nadmin  true            \n'
    assert render_table(['user'], [['admin']], show_header=False) == 'admin  \n'


def test_verbose_mode_uses_development_logger():
    code, out, err = run('-v', '-k', MISSING_KUBECONFIG, 'accounts', 'delete', '-u', 'x')
    assert (code, out) == (1, '')
    lines = err.splitlines()
    assert lines[0].split('\t')[1:3] == ['DEBUG', 'everestctl'] and lines[0].split('\t')[4] == 'Debug logging enabled'
    assert lines[1].split('\t')[1] == 'ERROR' and USERNAME_ERR in lines[1]
    assert len(lines) > 2  # error records carry a stack trace in development mode


def test_non_boolean_env_breaks_kubeconfig_default(monkeypatch, tmp_path):
    cfg = tmp_path / 'kubeconfig'
    env = {'KUBECONFIG': str(cfg), 'JSON': 'maybe'}
    code, _out, err = run('accounts', 'list', env=env, monkeypatch=monkeypatch)
    assert code == 1 and err.startswith('\u274c read .: is a directory\ncould not read kubeconfig file')
    code, _out, err = run('accounts', 'list', env={'JSON': 'false'}, monkeypatch=monkeypatch)
    assert code == 1 and f'open {cfg}: no such file or directory' in err


def test_help_topics():
    code, out, err = run('help', 'accounts', 'create')
    assert (code, err) == (0, '') and out.startswith('Create a new Everest user account\n\nUsage:\n  everestctl accounts create [flags]\n')
    code, out, err = run('help', 'nothing-here')
    assert (code, out) == (0, '') and err.startswith('Unknown help topic [`nothing-here`]\nUsage:\n')


def test_internal_error_exits_1_and_is_logged(monkeypatch, tmp_path):
    log = tmp_path / 'calls.jsonl'
    monkeypatch.setenv('EVEREST_SANDBOX_CALL_LOG', str(log))

    def boom():
        raise RuntimeError('kaboom')

    monkeypatch.setattr(cli, 'build_root', boom)
    code, out, err = run('accounts', 'list')
    assert (code, out) == (1, '') and 'everestctl emulator internal error' in err and 'kaboom' in err
    assert json.loads(log.read_text())['rc'] == 1
