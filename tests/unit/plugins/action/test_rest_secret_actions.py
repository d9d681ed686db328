"""Unit tests of the action plugins of everest_session and everest_database_cluster_info: they run the module
(``_execute_module``, mocked here) and mark a result holding the token or the credentials ``_ansible_no_log``, so no
callback shows it while the registered variable keeps it. Failures stay visible. The integration test
(tests/integration/test_day2_seed000.py) checks the same at -vvvv through ansible-playbook."""

import json
from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.virakcloud.everest.plugins.action import everest_database_cluster_info as info_action
from ansible_collections.virakcloud.everest.plugins.action import everest_session as session_action
from ansible_collections.virakcloud.everest.plugins.plugin_utils import _secret_result

TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZTpsb2dpbiJ9.c2ln'
CREDENTIALS = {'username': 'postgres', 'password': 'Db-pass-1', 'connection_url': 'postgres://postgres:Db-pass-1@pg:5432'}


def plugin(cls, args, module_result, check_mode=False, async_val=0):
    task = MagicMock()
    task.args = args
    task.async_val = async_val
    task.check_mode = check_mode
    task.action = 'virakcloud.everest.test'
    connection = MagicMock()
    connection._shell.tmpdir = None  # pylint: disable=protected-access
    action = cls(task, connection, MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    action._execute_module = MagicMock(return_value=dict(module_result))  # pylint: disable=protected-access
    action._remove_tmp_path = MagicMock()  # pylint: disable=protected-access
    action._early_needs_tmp_path = MagicMock(return_value=False)  # pylint: disable=protected-access
    return action


def run(cls, args, module_result, **kwargs):
    action = plugin(cls, args, module_result, **kwargs)
    result = action.run(task_vars={})
    action._execute_module.assert_called_once_with(task_vars={})  # pylint: disable=protected-access
    return result


# ---------------------------------------------------------------------------------------------- everest_session


@pytest.mark.parametrize(
    'args', [{'everest_username': 'alice', 'everest_password': 'pw'}, {'everest_username': 'alice', 'everest_password': 'pw', 'state': 'present'}]
)
def test_login_result_is_hidden_but_keeps_the_token(args):
    result = run(session_action.ActionModule, args, {'changed': False, 'token': TOKEN, 'username': 'alice'})
    assert result['_ansible_no_log'] is True
    assert result['token'] == TOKEN  # the registered variable still holds it


def test_login_in_check_mode_is_hidden_too():
    result = run(session_action.ActionModule, {}, {'changed': False, 'token': TOKEN}, check_mode=True)
    assert result['_ansible_no_log'] is True and result['token'] == TOKEN


def test_logout_result_stays_visible():
    result = run(session_action.ActionModule, {'state': 'absent'}, {'changed': True, 'username': 'alice'})
    assert '_ansible_no_log' not in result and result['username'] == 'alice'


def test_failed_login_stays_visible():
    failure = {'failed': True, 'changed': False, 'status': 401, 'msg': "Everest refused the login of 'alice' (401 Incorrect username or password provided)"}
    result = run(session_action.ActionModule, {'everest_username': 'alice'}, failure)
    assert '_ansible_no_log' not in result and result['msg'] == failure['msg'] and result['status'] == 401


def test_broken_module_output_is_withheld_but_the_failure_is_shown():
    """A module whose JSON could not be parsed: ansible puts the raw output into module_stdout, which may be the token."""
    broken = {
        'failed': True,
        'msg': 'MODULE FAILURE: No start of json char found',
        'rc': 1,
        'module_stdout': 'warning\n{"token": "%s"}' % TOKEN,
        'module_stderr': '',
    }
    result = run(session_action.ActionModule, {}, broken)
    assert TOKEN not in json.dumps(result)
    assert result['msg'].startswith('MODULE FAILURE') and result['module_stdout'] == _secret_result.WITHHELD_STDOUT
    assert '_ansible_no_log' not in result


def test_async_is_refused():
    action = plugin(session_action.ActionModule, {}, {'token': TOKEN}, async_val=30)
    with pytest.raises(AnsibleActionFail, match='does not support async'):
        action.run(task_vars={})
    action._execute_module.assert_not_called()  # pylint: disable=protected-access


# ---------------------------------------------------------------------------------------------- everest_database_cluster_info


@pytest.mark.parametrize('value', [True, 'yes', 'true', 1])
def test_credentials_result_is_hidden_but_keeps_them(value):
    answer = {'changed': False, 'database_clusters': [{'metadata': {'name': 'pg'}}], 'credentials': CREDENTIALS}
    result = run(info_action.ActionModule, {'namespace': 'ns-a', 'name': 'pg', 'credentials': value}, answer)
    assert result['_ansible_no_log'] is True and result['credentials'] == CREDENTIALS


def test_credentials_requested_for_a_missing_cluster_is_hidden_anyway():
    result = run(info_action.ActionModule, {'namespace': 'ns-a', 'name': 'pg', 'credentials': True}, {'changed': False, 'database_clusters': []})
    assert result['_ansible_no_log'] is True


@pytest.mark.parametrize(
    'args',
    [
        {'namespace': 'ns-a'},
        {'namespace': 'ns-a', 'name': 'pg', 'credentials': False},
        {'namespace': 'ns-a', 'name': 'pg', 'credentials': 'no', 'backups': True},
    ],
)
def test_lists_and_gets_without_credentials_stay_visible(args):
    result = run(info_action.ActionModule, args, {'changed': False, 'database_clusters': []})
    assert '_ansible_no_log' not in result and result['database_clusters'] == []


def test_unparsable_credentials_flag_counts_as_requested():
    result = run(info_action.ActionModule, {'namespace': 'ns-a', 'credentials': 'perhaps'}, {'changed': False, 'database_clusters': []})
    assert result['_ansible_no_log'] is True


def test_refused_credentials_stay_visible():
    failure = {
        'failed': True,
        'changed': False,
        'status': 403,
        'msg': "Everest refused to let user 'bob' read credentials of database cluster ns-alice/pg (403 ...)",
    }
    result = run(info_action.ActionModule, {'namespace': 'ns-alice', 'name': 'pg', 'credentials': True}, failure)
    assert '_ansible_no_log' not in result and result['status'] == 403 and 'bob' in result['msg']
