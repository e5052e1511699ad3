import json
import struct

import torch

from training.safetensors_io import load_file, save_file


def test_round_trip(tmp_path):
    torch.manual_seed(0)
    tensors = {
        "model.embed_tokens.weight": torch.randn(7, 5),
        "b.half": torch.randn(3).half(),
        "c.bf16": torch.randn(2, 2).to(torch.bfloat16),
        "d.int": torch.arange(6).view(2, 3),
        "e.scalar": torch.tensor(3.5),
    }
    path = tmp_path / "m.safetensors"
    save_file(tensors, str(path), metadata={"format": "pt"})
    back = load_file(str(path))
    assert set(back) == set(tensors)
    for k, v in tensors.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape and torch.equal(back[k], v), k


def test_layout_follows_the_format(tmp_path):
    path = tmp_path / "m.safetensors"
    save_file({"w": torch.tensor([1.0, -2.0]), "a": torch.tensor([3.0])}, str(path))
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    assert (8 + n) % 8 == 0
    assert header["a"] == {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}
    assert header["w"] == {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}
    assert struct.unpack("<3f", raw[8 + n:]) == (3.0, 1.0, -2.0)
