import math

import pytest

from scalinglab import UnitError, format_quantity, parse_quantity


@pytest.mark.parametrize(
    "text, value",
    [
        ("70B", 70e9), ("1.4T", 1.4e12), ("350M", 350e6), ("3.14e23", 3.14e23), ("6.7e9", 6.7e9),
        ("1.3 M", 1.3e6), ("2^20", 2**20), ("2**20", 2**20), ("1,000,000", 1e6), ("12k", 12e3),
        ("70B params", 70e9), ("300B tokens", 300e9), ("3e23 FLOPs", 3e23), ("1_000", 1000.0),
        (" 42 ", 42.0), ("1e-3", 1e-3), (5, 5.0), (2.5, 2.5),
    ],
)
def test_parse_exact(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "abc", "70m", "7b", "1MB", "nan", "inf", "1e400", "2^99999", "1.2.3",
                                  "70 B B", "Ki", "--1", "0^-1", True])
def test_parse_rejects(text):
    with pytest.raises(UnitError):
        parse_quantity(text, what="params")


@pytest.mark.parametrize("value", [7e10, 1.4e12, 3.5e8, 1.2e4, 5e15, 3.14e23, 12.0])
def test_round_trip(value):
    assert math.isclose(parse_quantity(format_quantity(value, digits=6)), value, rel_tol=1e-6)


def test_error_names_quantity():
    with pytest.raises(UnitError, match="params"):
        parse_quantity("70m", what="params")


def test_cli_error_is_one_line_without_markup_or_traceback():
    from typer.testing import CliRunner

    from scalinglab.cli import app

    r = CliRunner().invoke(app, ["flops", "--params", "[bold]70m", "--tokens", "1T", "--json"])
    assert r.exit_code == 2
    assert "Traceback" not in r.output
    assert "[bold]70m" in r.output  # user text printed literally, not eaten as Rich markup


@pytest.mark.parametrize("text, value", [("1.4Bn", 1.4e9), ("1.4BN", 1.4e9), ("1.4 billion", 1.4e9),
                                         ("70 million tokens", 7e7), ("3 Thousand", 3e3), ("2.5mn", 2.5e6),
                                         ("1 trillions", 1e12), ("4tn", 4e12)])
def test_scales_written_out_or_in_any_case(text, value):
    from scalinglab.units import parse_quantity

    assert parse_quantity(text) == pytest.approx(value)


def test_money_reads_a_dollar_sign_and_usd():
    from scalinglab.hardware import estimate_cost
    from scalinglab.units import parse_money

    assert (parse_money("$100k"), parse_money("2.5 USD"), parse_money(" $1.2M "), parse_money(7)) == \
        (1e5, 2.5, 1.2e6, 7.0)
    assert estimate_cost(1e22, "H100", n_gpus=8, price_per_hour="$2-$3").price_per_hour == (2.0, 3.0)
