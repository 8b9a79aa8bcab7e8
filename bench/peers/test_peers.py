"""The result check of bench/peers: engines' values in their own types compare equal, real differences do not.

Runs with the project's Python (no peers needed): `ctest -R bench_peers_check`.
"""

import datetime as dt
import decimal

import peers  # pytest puts this folder on the path (rootdir-relative import mode)


def test_json_strings_equal_arrow_values():
    # Lakehouse JSON: decimals as strings, timestamps ISO with T; Arrow: Decimal, datetime.
    json_rows = [["c7", "12.50", 3, "2024-01-02T03:04:05", "1994-01-01", True]]
    arrow_rows = [("c7", decimal.Decimal("12.5"), 3, dt.datetime(2024, 1, 2, 3, 4, 5), dt.date(1994, 1, 1), True)]
    assert peers.same(peers.canonical(json_rows, False), peers.canonical(arrow_rows, False))


def test_order_free_for_small_results():
    assert peers.same(peers.canonical([(1, "a"), (2, "b")], False), peers.canonical([(2, "b"), (1, "a")], False))


def test_a_different_value_is_a_mismatch():
    assert not peers.same(peers.canonical([(1, "a")], False), peers.canonical([(1, "b")], False))
    assert not peers.same(peers.canonical([(1, 2.5)], False), peers.canonical([(1, 2.51)], False))
    assert not peers.same(peers.canonical([(1,)], False), peers.canonical([(1,), (1,)], False))


def test_decimal_avg_rounding_tolerated_but_not_more():
    # DataFusion's AVG(DECIMAL) is DECIMAL(19,6); DuckDB's a DOUBLE.
    duck = peers.canonical([(0.049985295838397614,)], False)
    assert peers.same(duck, peers.canonical([(decimal.Decimal("0.049985"),)], False))
    assert not peers.same(duck, peers.canonical([(decimal.Decimal("0.049975"),)], False))


def test_large_results_compare_by_checksum():
    rows = [(i, f"c{i % 7}", i / 4) for i in range(20000)]
    other = list(reversed(rows))
    assert peers.same(peers.canonical(rows, True), peers.canonical(other, True))
    changed = rows[:-1] + [(19999, "c0", 1.0)]
    assert not peers.same(peers.canonical(rows, True), peers.canonical(changed, True))
