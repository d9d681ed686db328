"""The sandbox's one Quantity implementation (kubeapi/quantity.py) against resource.Quantity's behaviour
(kubernetes reference §3, §4.2)."""

import pytest

from everest_sandbox.kubeapi.quantity import ERR_FORMAT, ERR_NUMERIC, ERR_SUFFIX, Quantity, QuantityError, add_lists, canonical, from_int


@pytest.mark.parametrize(
    'text, expected',
    [
        ('0', '0'),
        ('1', '1'),
        ('1000', '1k'),
        ('1.5', '1500m'),
        ('0.1', '100m'),
        ('100m', '100m'),
        ('1Gi', '1Gi'),
        ('1024Mi', '1Gi'),
        ('1.5Gi', '1536Mi'),
        ('0.5Gi', '512Mi'),
        ('0.5Ki', '512'),
        ('2G', '2G'),
        ('2000M', '2G'),
        ('10000k', '10M'),
        ('0.2G', '200M'),
        ('0.0001', '100u'),
        ('0.1n', '1n'),
        ('1e3', '1e3'),
        ('12e6', '12e6'),
        ('-1', '-1'),
        ('+1', '1'),
        (5, '5'),
        (1.5, '1500m'),
        ('99604Ki', '99604Ki'),
        ('1.3Gi', '1395864371200m'),
        ('0.1Ki', '102400m'),
        ('0.0000000001', '1n'),
        ('100Ei', '9223372036854775807'),
        ('1536Mi', '1536Mi'),
        ('2000', '2k'),
        ('1000E', '1e21'),
        ('-0.5Gi', '-512Mi'),
        ('007', '7'),
        ('1.', '1'),
        ('.5', '500m'),
        ('1E2', '100'),
    ],
)
def test_canonical_form(text, expected):
    assert canonical(text) == expected


@pytest.mark.parametrize(
    'text, error',
    [
        ('10Mo', ERR_FORMAT),
        ('1,3G', ERR_FORMAT),
        ('Mi', ERR_FORMAT),
        ('', ERR_FORMAT),
        ('three', ERR_FORMAT),
        ('10Mm', ERR_SUFFIX),
        ('200K', ERR_SUFFIX),
        (True, ERR_FORMAT),
        ('.', ERR_NUMERIC),
        ('-.Ki', ERR_NUMERIC),
        (' 1', ERR_FORMAT),
        ('1e', ERR_SUFFIX),
        ('1e99999999999999999999', ERR_SUFFIX),
        ('1²', ERR_FORMAT),
    ],
)
def test_parse_errors(text, error):
    with pytest.raises(QuantityError) as info:
        Quantity.parse(text)
    assert str(info.value) == error


def test_comparison_is_by_value_not_spelling():
    assert Quantity.parse('200M') == Quantity.parse('0.2G')
    assert Quantity.parse('512Mi') == Quantity.parse('0.5Gi')
    assert Quantity.parse('50M').cmp(Quantity.parse('50Mi')) == -1
    assert not Quantity.parse('1') > Quantity.parse('1000m') and not Quantity.parse('1') < Quantity.parse('1000m')


def test_sum_keeps_the_first_non_zero_format():
    assert str(Quantity.parse('0') + Quantity.parse('64Mi')) == '64Mi'
    assert str(Quantity.parse('200m') + Quantity.parse('200m')) == '400m'
    assert str(Quantity.parse('1Gi') + Quantity.parse('512Mi')) == '1536Mi'
    assert str(Quantity.parse('1G') + Quantity.parse('1Gi')) == '2073741824'
    assert {k: str(v) for k, v in add_lists({'cpu': Quantity.parse('1')}, {'cpu': Quantity.parse('500m'), 'x': Quantity(2)}).items()} == {
        'cpu': '1500m',
        'x': '2',
    }


def test_rounding_helpers():
    assert Quantity.parse('1500m').value_int() == 2
    assert Quantity.parse('1n').milli_value() == 1
    assert str(Quantity.parse('1.5').round_up()) == '2'
    assert Quantity.comparable(Quantity.parse('100m'), Quantity.parse('1')) == [100, 1000]


@pytest.mark.parametrize(
    'text, integer',
    [
        ('50', 50),
        ('1.5k', 1500),
        ('1Gi', 2**30),
        ('-3', -3),
        ('999999999999999999', 10**18 - 1),
        ('1e3', 1000),
        ('9223372036854775807', None),  # 19 digits: past the fast path's precision, a big decimal
        ('1.0', None),
        ('1000m', None),
        ('1500m', None),
        ('9999999999999999999999999999999999999G', None),
        ('1.5Gi', None),
        ('10E', None),
    ],
)
def test_go_representation_decides_as_int64(text, integer):
    """AsInt64 converts only an int64 amount with a non-negative scale: what CEL's isInteger/asInteger see."""
    assert Quantity.parse(text).as_int64() == ((integer, True) if integer is not None else (0, False))


def test_arithmetic_stays_exact_and_switches_to_big_decimals():
    big = Quantity.parse('9223372036854775807')
    total = big + Quantity.parse('1')
    assert (total.kind, str(total), total.as_int64()) == ('dec', '9223372036854775808', (0, False))
    assert str(Quantity.parse('50k').add(from_int(20))) == '50020' and Quantity.parse('50k').add(from_int(20)).as_int64() == (50020, True)
    assert str(Quantity.parse('1').sub(Quantity.parse('1500m'))) == '-500m'
    assert Quantity.parse('1.5Gi').round_up() == Quantity.parse('1536Mi')
    assert Quantity.parse('-1500m').value_int() == -2


def test_decode_trims_like_unmarshal_json_and_numbers_read_as_text():
    assert str(Quantity.decode(' 1Gi ')) == '1Gi'
    assert str(Quantity.parse(0.25)) == '250m' and str(Quantity.parse(2**40)) == '1099511627776'
