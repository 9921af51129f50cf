"""Mixing rates: EPS cap, temperature, benchmark proportions and their renormalisation."""

import pytest

from optiml_jax.data.mixing import PAPER_BENCHMARK_PROPORTIONS, compute_mixing_rates


def test_examples_proportional_with_cap():
    rates = compute_mixing_rates({"a": ("superni", 100), "b": ("superni", 300), "c": ("superni", 10_000)}, eps=400)
    assert rates.rates == pytest.approx({"a": 100 / 800, "b": 300 / 800, "c": 400 / 800})
    assert rates.capped_tasks == 1 and sum(rates.rates.values()) == pytest.approx(1)


def test_temperature_flattens():
    rates = compute_mixing_rates({"a": ("superni", 100), "b": ("superni", 400)}, temperature=2.0)
    assert rates.rates == pytest.approx({"a": 10 / 30, "b": 20 / 30})


def test_paper_proportions_renormalised_among_present_benchmarks_and_reported():
    tasks = {"n1": ("superni", 1000), "n2": ("superni", 3000), "f1": ("flan", 50)}
    rates = compute_mixing_rates(tasks)
    assert rates.benchmark_shares == pytest.approx({"superni": 25 / 45, "flan": 20 / 45})
    assert rates.rates["f1"] == pytest.approx(20 / 45)
    assert rates.rates["n2"] == pytest.approx(25 / 45 * 3 / 4)
    assert set(rates.absent_benchmarks) == set(PAPER_BENCHMARK_PROPORTIONS) - {"superni", "flan"}
    assert "renormalised away): crossfit, exmix" in rates.describe()


def test_natural_proportions_and_bad_input():
    rates = compute_mixing_rates({"n": ("superni", 300), "f": ("flan", 100)}, proportions=None)
    assert rates.rates == pytest.approx({"n": 0.75, "f": 0.25}) and rates.absent_benchmarks == ()
    with pytest.raises(ValueError, match="no proportion given for benchmark"):
        compute_mixing_rates({"x": ("mystery", 10)})
    with pytest.raises(ValueError, match="task 'x' has 0 examples"):
        compute_mixing_rates({"x": ("superni", 0)})
