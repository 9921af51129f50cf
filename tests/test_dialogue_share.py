"""The dialogue share of the §4.7 ablation mixtures: chosen by mixture name or by
`OPTIML_DIALOGUE_SHARE`, and what the batch stream samples matches it; a bad setting names itself."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import optiml_jax.tasks as bench
from data_fixtures import real_data_dir
from optiml_jax.data import registry
from optiml_jax.data.pipeline import PackedBatchStream
from optiml_jax.tasks.dialogue import NAMED_SHARES, PAPER_SHARE, SHARE_SETTING, configured_share, share_mixture_name

REPO = Path(__file__).resolve().parents[1]
DIALOGUE_PER_CHECK = 400  # Expected dialogue examples per check; ±20% is over 4 standard deviations.


def sampled_dialogue_share(mixture: str, share: float, cache_dir: str) -> float:
    stream = PackedBatchStream(mixture, batch_size=8, sequence_length=512, seed=0, cache_dir=cache_dir)
    count = round(DIALOGUE_PER_CHECK / share)
    drawn = stream.examples_at(range(count))
    return sum(registry.get_task(task).benchmark == "dialogue" for task, _ in drawn) / count


def test_the_setting_defaults_to_the_papers_share(monkeypatch):
    monkeypatch.delenv(SHARE_SETTING, raising=False)
    assert configured_share() == PAPER_SHARE == 0.005
    monkeypatch.setenv(SHARE_SETTING, " 0.02 ")
    assert configured_share() == 0.02


@pytest.mark.parametrize("value", ["abc", "0", "1", "-0.01", "1.5", "nan", "inf", "0.5%"])
def test_a_bad_share_raises_naming_the_setting_and_the_fix(monkeypatch, value):
    monkeypatch.setenv(SHARE_SETTING, value)
    with pytest.raises(ValueError, match=rf"^OPTIML_DIALOGUE_SHARE={value!r}: .* strictly between 0 and 1 .*unset"):
        configured_share()


def test_share_names_spell_the_percentage_as_a_seqio_name():
    assert [share_mixture_name("opt_iml", s) for s in (0.005, 0.01, 0.07, 1e-7)] == [
        "opt_iml_train_with_dialogue_0.5pct", "opt_iml_train_with_dialogue_1pct", "opt_iml_train_with_dialogue_7pct",
        "opt_iml_train_with_dialogue_0.00001pct"]


def test_every_named_share_is_a_mixture_whose_sampled_dialogue_share_matches_it(tmp_path):
    real_data_dir()  # The mixtures exist only with local dialogue data (BANKING77).
    assert bench.DIALOGUE_MIXTURES[0] == "opt_iml_train_with_dialogue"
    base = bench.REPORT.mixing["opt_iml_train"].benchmark_shares
    for share in NAMED_SHARES:
        name = share_mixture_name("opt_iml", share)
        assert name in bench.DIALOGUE_MIXTURES
        shares = bench.REPORT.mixing[name].benchmark_shares
        assert shares["dialogue"] == pytest.approx(share)
        assert all(shares[b] == pytest.approx(s * (1 - share)) for b, s in base.items())  # Others keep their ratios.
        sampled = sampled_dialogue_share(name, share, str(tmp_path))
        assert abs(sampled - share) <= 0.2 * share, (name, sampled)
    # Unset, the plain name is the paper's share.
    assert registry.get_mixture("opt_iml_train_with_dialogue").rates == registry.get_mixture(
        share_mixture_name("opt_iml", PAPER_SHARE)).rates


_CONFIGURED_RUN = """
import optiml_jax.tasks as bench
from optiml_jax.data import registry
from test_dialogue_share import sampled_dialogue_share
assert registry.get_mixture("opt_iml_train_with_dialogue").rates == registry.get_mixture(
    "opt_iml_train_with_dialogue_4pct").rates
print(bench.REPORT.mixing["opt_iml_train_with_dialogue"].benchmark_shares["dialogue"])
print(sampled_dialogue_share("opt_iml_train_with_dialogue", 0.04, {cache!r}))
"""


def _import_bench(code: str, share: str) -> subprocess.CompletedProcess:
    env = {**os.environ, SHARE_SETTING: share, "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), str(REPO)])}
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_the_setting_gives_the_default_mixture_its_share_and_a_bad_one_stops_the_import(tmp_path):
    real_data_dir()
    done = _import_bench(_CONFIGURED_RUN.format(cache=str(tmp_path)), "0.04")
    assert done.returncode == 0, done.stderr[-3000:]
    configured, sampled = (float(line) for line in done.stdout.split())
    assert configured == pytest.approx(0.04) and abs(sampled - 0.04) <= 0.2 * 0.04, sampled
    failed = _import_bench("import optiml_jax.tasks", "five percent")
    assert failed.returncode != 0 and "OPTIML_DIALOGUE_SHARE='five percent'" in failed.stderr
