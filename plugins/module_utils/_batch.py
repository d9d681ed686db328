# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The single-or-list (batch) form of a module, derived from one item spec.

A module that manages one object (``username: acme``) or several in one task (``accounts: [...]``) declares the
options of one item once. ``BatchForm`` derives from it:

* the single form: the item's options as module options (none required; ``inherited`` keys get their module default);
* the list option: a list of dicts whose options are the item spec; ``module()``: the EverestModule taking one or the
  other;
* ``items(params)``: the items to converge, with the module's value for an ``inherited`` key an item leaves out and
  the ``shared`` module options copied into every item;
* ``validate``: every item checked before the first call, all problems named in one failure;
* ``exit_single`` / ``exit_batch``: one result shape per form (the batch's: ``results``, ``changed`` if any item
  changed, a diff per item headed by the object, one failure naming every failed item).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError
from ansible_collections.virakcloud.everest.plugins.module_utils._module import EverestModule


class BatchForm:
    """``item_spec``: the options of one item; ``list_option``: the name of the list form; ``key``: the item option that
    names the object; ``noun``: what an item is, in messages; ``module_options``: the options of the module itself;
    ``inherited``: {item option: module default}; ``shared``: module options every item gets."""

    def __init__(self, item_spec, list_option, key, noun, module_options=None, inherited=None, shared=()):
        self.item_spec = item_spec
        self.list_option = list_option
        self.key = key
        self.noun = noun
        self.module_options = dict(module_options or {})
        self.inherited = dict(inherited or {})
        self.shared = tuple(shared)

    def argument_spec(self):
        """The single-form options, the list option and the module's own options (deep copies)."""
        spec = {}
        for name, option in self.item_spec.items():
            option = copy.deepcopy(option)
            option.pop('required', None)
            if name in self.inherited and self.inherited[name] is not None:
                option['default'] = self.inherited[name]
            spec[name] = option
        spec[self.list_option] = dict(type='list', elements='dict', options=copy.deepcopy(self.item_spec))
        spec.update(copy.deepcopy(self.module_options))
        return spec

    def module(self, **kwargs):
        """The EverestModule (check mode supported) whose options are ``argument_spec()``: the key option or the list option,
        not both (``kwargs``: the other EverestModule arguments, which may replace these two rules)."""
        kwargs.setdefault('mutually_exclusive', self.mutually_exclusive)
        kwargs.setdefault('required_one_of', self.required_one_of)
        return EverestModule(argument_spec=self.argument_spec(), supports_check_mode=True, **kwargs)

    @property
    def mutually_exclusive(self):
        return [(self.key, self.list_option)]

    @property
    def required_one_of(self):
        return [(self.key, self.list_option)]

    def items(self, params):
        """``(items, batch)``: the items of the task (copies) and whether the list form was used."""
        batch = params.get(self.list_option) is not None
        if batch:
            items = [dict(item) for item in params[self.list_option]]
        else:
            items = [dict((name, params.get(name)) for name in self.item_spec)]
        for item in items:
            for name in self.inherited:
                if item.get(name) is None:
                    item[name] = params.get(name)
            for name in self.shared:
                item[name] = params.get(name)
        return items, batch

    def validate(self, module, items, batch, check, plural, label=None, **fail_extra):
        """Check every item before anything is called: ``check(item)`` raises an EverestError or returns the item to use
        (None: the item itself). The single form fails on its problem; the batch form names every problem in one failure
        (``label(item, exc)``: how a problem is named, default its message). Returns the checked items."""
        checked = []
        problems = []
        for item in items:
            try:
                result = check(item)
                checked.append(item if result is None else result)
            except EverestError as exc:
                if not batch:
                    module.fail_from(exc, **fail_extra)
                problems.append(label(item, exc) if label else exc.msg)
        if problems:
            module.fail_json(msg='%d of %d %s rejected before anything ran: %s' % (len(problems), len(items), plural, '; '.join(problems)), **fail_extra)
        return checked

    def exit_single(self, module, result, keys, optional=(), changed=False, extra=None):
        """Finish a single-form run: ``keys`` of the result (always), ``optional`` ones when set, the diff in diff mode.
        ``changed``/``extra``: what the module changed besides the item, and module-level keys to return."""
        for warning in result.get('warnings') or []:
            module.warn(warning)
        output = dict(extra or {}, changed=changed or result['changed'])
        for name in keys:
            output[name] = result.get(name)
        for name in optional:
            if result.get(name):
                output[name] = result[name]
        if module._diff:  # pylint: disable=protected-access
            output['diff'] = {'before': result['before'], 'after': result['after']}
        module.exit_json(**output)

    def exit_batch(self, module, results, keep, header=None, changed=False, extra=None):
        """Finish a batch-form run: ``results`` (each reduced to its non-null ``keep`` fields), ``changed`` if any item
        changed, a diff per item (headed by ``header(result)``, default ``<noun> <key value>``), and one failure naming every
        failed item (the others are still reported). ``changed``/``extra``: as for ``exit_single``."""
        for result in results:
            for warning in result.get('warnings') or []:
                module.warn(warning)
        public = [dict((k, v) for k, v in r.items() if k in keep and v is not None) for r in results]
        output = dict(extra or {}, changed=changed or any(r.get('changed') for r in results), results=public)
        if module._diff:  # pylint: disable=protected-access
            output['diff'] = batch_diff(results, header or (lambda r: '%s %s' % (self.noun, r[self.key])))
        failed = [r for r in results if r.get('failed')]
        if failed:
            output['msg'] = '%d of %d %s(s) failed: %s' % (
                len(failed),
                len(results),
                self.noun,
                '; '.join('%s: %s' % (r[self.key], r.get('msg')) for r in failed),
            )
            module.fail_json(**output)
        module.exit_json(**output)


def batch_diff(results, header):
    """One diff per item that has one (``before``/``after``), each headed by the object it is about (``header(result)``,
    e.g. ``namespace ns-a``), so a batch's diff reads like the single form's, object by object."""
    diffs = []
    for result in results:
        if 'before' in result or 'after' in result:
            name = header(result)
            diffs.append(
                {
                    'before': result.get('before', {}),
                    'after': result.get('after', {}),
                    'before_header': '%s (before)' % name,
                    'after_header': '%s (after)' % name,
                }
            )
    return diffs
