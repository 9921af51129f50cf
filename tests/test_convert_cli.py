"""`python -m optiml_jax.convert`: subcommands run end to end; the README's commands parse."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from hf_reference import differing_tensors, random_hf_model, transformers
from optiml_jax.convert.__main__ import build_parser
from optiml_jax.models.configs import OPTConfig

README = Path(__file__).resolve().parents[1] / "README.md"
CONFIG = OPTConfig(vocab_size=512, hidden_size=64, num_layers=2, num_heads=4, ffn_dim=256,
                   max_position_embeddings=64, word_embed_proj_dim=32, do_layer_norm_before=False)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "optiml_jax.convert", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_hf_then_export_hf(tmp_path):
    model, _ = random_hf_model(CONFIG)
    model.save_pretrained(tmp_path / "hf", max_shard_size=150_000)
    result = run_cli("hf", "--src", tmp_path / "hf", "--dest", tmp_path / "t5x", "--quiet")
    assert result.returncode == 0, result.stderr
    assert f"{CONFIG.num_params():,} parameters" in result.stdout
    assert str(tmp_path / "t5x" / "checkpoint_0") in result.stdout

    result = run_cli("export-hf", "--src", tmp_path / "t5x", "--dest", tmp_path / "out",
                     "--max_shard_size", "200KB", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "model.safetensors.index.json" in result.stdout
    reloaded = transformers.OPTForCausalLM.from_pretrained(tmp_path / "out")
    assert differing_tensors(model.state_dict(), reloaded.state_dict()) == []


def test_errors_are_one_line_without_a_traceback(tmp_path):
    result = run_cli("hf", "--src", tmp_path / "nowhere", "--dest", tmp_path / "t5x")
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "not a directory" in result.stderr
    assert "Traceback" not in result.stderr


def readme_commands():
    text = README.read_text()
    section = text[text.index("## Converting checkpoints"):]
    return [shlex.split(line)[3:] for line in re.findall(r"python -m optiml_jax\.convert [^`\n]+",
                                                         section)]


def test_readme_commands_parse():
    commands = readme_commands()
    assert {c[0] for c in commands} == {"hf", "metaseq", "export-hf"}
    parser = build_parser()
    for command in commands:
        try:
            parser.parse_args(command)
        except SystemExit:
            pytest.fail(f"README command does not parse: {' '.join(command)}")
    assert ["metaseq", "--src", "opt-175b/reshard", "--dest", "checkpoints/opt-175b", "--config",
            "opt-175b", "--tokenizer_dir", "opt-tokenizer"] in commands
