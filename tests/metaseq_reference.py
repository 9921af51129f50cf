"""metaseq part files made from an HF OPT model by applying metaseq's documented layout.

Names follow metaseq's `TransformerDecoder` (`decoder.layer_norm`, `project_in_dim`, fused
`self_attn.qkv_proj`); ranks split tensors as `scripts/reshard_mp.py` merges them; FSDP
flattening follows the `shard_metadata` that `scripts/reshard_fsdp.py` reads. Written
independently of the converter so that the two can disagree.
"""

from __future__ import annotations

from pathlib import Path

import torch

CONCAT_ROWS = ("embed_tokens.weight", "fc1.weight", "fc1.bias", "q_proj.weight", "q_proj.bias",
               "k_proj.weight", "k_proj.bias", "v_proj.weight", "v_proj.bias",
               "output_projection.weight")
CONCAT_COLUMNS = ("fc2.weight", "out_proj.weight")


def metaseq_state_dict(model, vocab_padding: int = 0) -> dict[str, torch.Tensor]:
    """The singleton (one-rank) metaseq state dict of an HF `OPTForCausalLM`."""
    state = {}
    for key, value in model.state_dict().items():
        if key == "lm_head.weight":
            continue
        key = key.removeprefix("model.")
        key = {"decoder.final_layer_norm.weight": "decoder.layer_norm.weight",
               "decoder.final_layer_norm.bias": "decoder.layer_norm.bias",
               "decoder.project_in.weight": "decoder.project_in_dim.weight",
               "decoder.project_out.weight": "decoder.project_out_dim.weight"}.get(key, key)
        state[key] = value.detach().clone()
    if vocab_padding:  # metaseq pads the vocabulary so every rank gets the same number of rows
        embed = state["decoder.embed_tokens.weight"]
        state["decoder.embed_tokens.weight"] = torch.cat(
            [embed, torch.randn(vocab_padding, embed.shape[1])])
    state["decoder.output_projection.weight"] = state["decoder.embed_tokens.weight"]
    state["decoder.version"] = torch.tensor([3.0])
    return state


def split_model_parallel(state: dict, num_parts: int, fused_qkv: bool) -> list[dict]:
    """Megatron-style rank state dicts; `fused_qkv` stores each rank's `[K_r; V_r; Q_r]`."""
    parts = [{} for _ in range(num_parts)]
    for key, value in state.items():
        if key.endswith(CONCAT_ROWS):
            chunks = value.chunk(num_parts, dim=0)
        elif key.endswith(CONCAT_COLUMNS):
            chunks = value.chunk(num_parts, dim=1)
        else:
            chunks = [value] * num_parts
        for part, chunk in zip(parts, chunks):
            part[key] = chunk.clone()
    if fused_qkv:
        for part in parts:
            for key in [k for k in part if ".self_attn.q_proj." in k]:
                names = [key.replace(".q_proj.", f".{n}_proj.") for n in ("k", "v", "q")]
                fused = torch.cat([part.pop(name) for name in names])
                part[key.replace(".q_proj.", ".qkv_proj.")] = fused
    return parts


def _fsdp_unit(key: str) -> tuple[str, str]:
    """(fsdp_path, name inside the unit): one FSDP unit per layer plus the root."""
    if key.startswith("decoder.layers."):
        layer = ".".join(key.split(".")[:3])
        return layer, key[len(layer) + 1:]
    return "", key


def flatten_fsdp(part: dict, num_shards: int) -> list[dict]:
    """One rank's tensors as FSDP shard files: per unit a `flat_param_0`, padded and split."""
    units: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in part.items():
        if key in ("decoder.version", "decoder.output_projection.weight"):
            continue  # a buffer, and a parameter shared with embed_tokens (stored once)
        path, name = _fsdp_unit(key)
        units.setdefault(path, {})[name] = value
    files = [{"model": {"decoder.version": part["decoder.version"]},
              "shard_metadata": {"param_metadata": [], "buffer_names": ["decoder.version"],
                                 "shared_param_info": [("decoder.embed_tokens.weight",
                                                        "decoder.output_projection.weight")]}}
             for _ in range(num_shards)]
    for path, tensors in units.items():
        flat = torch.cat([t.reshape(-1) for t in tensors.values()])
        per_shard = -(-flat.numel() // num_shards)
        padded = torch.cat([flat, flat.new_zeros(per_shard * num_shards - flat.numel())])
        flat_key = f"{path}.flat_param_0".lstrip(".")
        for shard, file in enumerate(files):
            real = max(0, min(flat.numel() - shard * per_shard, per_shard))
            file["model"][flat_key] = padded[shard * per_shard:(shard + 1) * per_shard].clone()
            file["shard_metadata"]["param_metadata"].append({"fsdp_path": path, "params": {
                "flat_param_0": {"names": list(tensors), "shapes": [list(t.shape) for t in
                                                                     tensors.values()],
                                 "numels": [t.numel() for t in tensors.values()],
                                 "padding": per_shard - real}}})
    return files


def write_metaseq_parts(model, directory: str | Path, *, num_parts: int = 2,
                        fused_qkv: bool = True, fsdp_shards: int = 0,
                        vocab_padding: int = 0) -> list[Path]:
    """Part files as metaseq releases them (OPT-IML-30B: 2 ranks, fused K,V,Q).

    `fsdp_shards > 0` writes still-flattened `…-model_part-<r>-shard<s>.pt` files instead.
    A `cfg` entry (plain dict, as metaseq's trainer stores it) rides along like in real files.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    parts = split_model_parallel(metaseq_state_dict(model, vocab_padding), num_parts, fused_qkv)
    written = []
    for rank, part in enumerate(parts):
        cfg = {"model": {"model_parallel_size": num_parts}}
        if not fsdp_shards:
            path = directory / f"checkpoint_1_4000.pt-model_part-{rank}.pt"
            torch.save({"model": part, "cfg": cfg}, path)
            written.append(path)
            continue
        for shard, content in enumerate(flatten_fsdp(part, fsdp_shards)):
            path = directory / f"checkpoint_last-model_part-{rank}-shard{shard}.pt"
            torch.save({**content, "cfg": cfg}, path)
            written.append(path)
    return written
