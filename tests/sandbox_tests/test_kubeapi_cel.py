"""CEL module of the Kubernetes API emulator: the quantity library (Go resource.Quantity semantics), lists, strings,
compile-time checks and run-time errors with kube-apiserver's texts."""

import pytest

from everest_sandbox.kubeapi import cel

FORMAT_WRONG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


def value(source, data=None, result='bool', **kwargs):
    program = cel.Program(source, result=result, **kwargs)
    with cel.evaluation():
        return program.evaluate(cel.to_cel(data or {}))[0]


@pytest.mark.parametrize(
    'source,expected',
    [
        ("quantity('200M') == quantity('0.2G')", True),
        ("quantity('512Mi') == quantity('0.5Gi')", True),
        ("quantity('200M') == quantity('0.3G')", False),
        ("quantity('50M').compareTo(quantity('50Mi')) == -1", True),
        ("quantity('50Mi').compareTo(quantity('50M')) == 1", True),
        ("quantity('1').isGreaterThan(quantity('1000m'))", False),
        ("quantity('1').isLessThan(quantity('1000m'))", False),
        ("quantity('150Mi').isGreaterThan(quantity('100Mi'))", True),
        ("isQuantity('1.3Gi') && isQuantity('20M') && isQuantity('10000k')", True),
        ("isQuantity('200K') || isQuantity('1,3G') || isQuantity('10Mo') || isQuantity('10Mm') || isQuantity('Mi')", False),
        ("quantity('50k').add(20) == quantity('50020')", True),
        ("quantity('50k').add(quantity('20')) == quantity('50.02k')", True),
        ("quantity('50k').sub(20000) == quantity('30k')", True),
        ("quantity('50k').add(20).sub(quantity('100k')).sub(-50000).asInteger() == 20", True),
        ("quantity('9999999999999999999999999999999999999G').isInteger()", False),
        ("quantity('50').isInteger() && quantity('1.5k').isInteger()", True),
        ("quantity('1500m').isInteger() || quantity('1.0').isInteger()", False),  # Go's AsInt64: a negative scale never converts
        ("quantity('50.703k').asApproximateFloat() == 50703.0", True),
        ("sign(quantity('-1')) == -1 && sign(quantity('0')) == 0", True),
        ("[quantity('9999999999999999999999999999999999999')].all(x, x.add(quantity('1')).compareTo(x.add(quantity('2'))) == -1)", True),
    ],
)
def test_quantity_library(source, expected):
    assert value(source) is expected


@pytest.mark.parametrize(
    'source,error',
    [
        ("quantity('10Mo').isInteger()", FORMAT_WRONG),
        ("quantity('10Mm').isInteger()", "unable to parse quantity's suffix"),
        ("quantity('Mi').isInteger()", FORMAT_WRONG),
        ("quantity('9999999999999999999999999999999999999G').asInteger() > 0", 'cannot convert value to integer'),
        ("object.spec.replicas > 1", 'no such key: spec'),
        ("object.a / 0 > 1", 'division by zero'),
        ("[0][1] > 0", "index '1' out of range in list size '1'"),
        ("dyn([]).min() > 0", 'min called on empty list'),
    ],
)
def test_runtime_errors(source, error):
    with pytest.raises(cel.EvalError) as exc:
        value(source, {'object': {'a': 1}})
    assert str(exc.value) == error


@pytest.mark.parametrize(
    'source,detail',
    [
        (
            "quantity('1').isGreaterThan('2')",
            "compilation failed: ERROR: <input>:1:28: found no matching overload for 'isGreaterThan' applied to "
            "'kubernetes.Quantity.(string)'\n | quantity('1').isGreaterThan('2')\n | ...........................^",
        ),
        (
            "quantity('1') == 1",
            "compilation failed: ERROR: <input>:1:15: found no matching overload for '_==_' applied to "
            "'(kubernetes.Quantity, int)'\n | quantity('1') == 1\n | ..............^",
        ),
        ("foo(1)", "compilation failed: ERROR: <input>:1:4: undeclared reference to 'foo' (in container '')\n | foo(1)\n | ...^"),
        ("params.x == 1", "compilation failed: ERROR: <input>:1:1: undeclared reference to 'params' (in container '')\n | params.x == 1\n | ^"),
        ("variables.nope", "compilation failed: ERROR: <input>:1:10: undefined field 'nope'\n | variables.nope\n | .........^"),
        ("object.spec", 'must evaluate to bool'),
    ],
)
def test_compile_errors(source, detail):
    with pytest.raises(cel.CompileError) as exc:
        cel.Program(source)
    assert exc.value.detail == detail


def test_syntax_error_has_cel_go_text():
    with pytest.raises(cel.CompileError) as exc:
        cel.Program('1 + ')
    assert exc.value.detail.startswith("compilation failed: ERROR: <input>:1:5: Syntax error: mismatched input '<EOF>' expecting")


def test_params_declared_only_with_param_kind():
    assert value('params.spec.x == 1', {'params': {'spec': {'x': 1}}}, has_params=True) is True


def test_lists_strings_and_optionals():
    assert value("[1, 2, 3].isSorted() && [3, 1].max() == 3 && [1, 2].sum() == 3 && [1, 2, 1].lastIndexOf(1) == 2") is True
    assert value("['a', 'b'].indexOf('b') == 1 && 'A,B'.lowerAscii().split(',').join('-') == 'a-b'") is True
    assert value("object.?missing.orValue(5) == 5 && has(object.a) && !has(object.b)", {'object': {'a': 1}}) is True
    assert value("'%s asks for %d'.format(['ns-a', 3])", result='string') == 'ns-a asks for 3'


def test_message_expression_must_be_a_string():
    with pytest.raises(cel.CompileError) as exc:
        cel.Program('1 + 1', result='string')
    assert exc.value.detail == 'must evaluate to string'


def test_cost_estimate_limits_nested_comprehensions():
    program = cel.Program('object.l.all(x, object.l.all(y, x != y || x == y))')
    big = {'object': {'l': list(range(2000))}}
    with pytest.raises(cel.EvalError) as exc:
        program.evaluate(cel.to_cel(big), cel.largest_collection(big))
    assert str(exc.value) == cel.COST_EXCEEDED
    small = {'object': {'l': list(range(5))}}
    assert program.evaluate(cel.to_cel(small), cel.largest_collection(small))[0] is True
