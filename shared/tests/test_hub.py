from __future__ import annotations

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from paperzoo.core.hub import MODEL_CARD_TEMPLATE, load_pretrained


class TinyModel(nn.Module, PyTorchModelHubMixin, model_card_template=MODEL_CARD_TEMPLATE):
    def __init__(self, width: int = 3):
        super().__init__()
        self.layer = nn.Linear(width, 1)


def test_load_pretrained_keeps_stdout_clean(tmp_path, capsys):
    torch.manual_seed(0)
    saved = TinyModel(width=4)
    saved.save_pretrained(tmp_path)
    loaded = load_pretrained(TinyModel, tmp_path)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert torch.equal(loaded.layer.weight, saved.layer.weight)
    card = (tmp_path / "README.md").read_text()
    assert "saved by\na paperzoo run" in card
    assert "pushed to the Hub" not in card
