"""The one weights format: every model's weights round-trip through it, the one loader's errors
are one line naming the file, the shipped files are in it, and old layouts convert."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from attentrack.tracker.errors import InputError
from attentrack.tracker.weights_file import FORMAT, load_weights, read_state_dict, save_weights
from attentrack.tracker.weights_upgrade import upgrade_file

REPO = Path(__file__).resolve().parents[2]
SHIPPED = {
    "tracker/weights/hart.pt": "hart", "tracker/weights/hart_fast.pt": "hart",
    "tracker/weights/sqair_moving_mnist.pt": "sqair", "generative/weights/draw.pt": "draw",
    "generative/weights/aligndraw.pt": "aligndraw", "generative/weights/digit-classifier.pt": "digit-classifier",
    "generative/face/weights/face.pt": "face", "saliency/weights/digits.pt": "saliency-classifier",
    "saliency/weights/pedestrian.pt": "saliency-classifier",
}


def _one_line(exc_info) -> str:
    message = str(exc_info.value)
    assert "\n" not in message
    return message


def test_save_and_load_keep_everything(tmp_path):
    state = {"w": torch.randn(3, 2), "n": torch.tensor(4)}
    save_weights(tmp_path / "w.pt", "toy", {"size": 3, "names": ["a"]}, state, {"training": {"steps": 9}})
    blob = torch.load(tmp_path / "w.pt", weights_only=True)
    assert blob["format"] == FORMAT and blob["model_id"] == "toy" and set(blob) == {
        "format", "model_id", "config", "state_dict", "metadata"}
    w = load_weights(tmp_path / "w.pt", expect="toy")
    assert w.config == {"size": 3, "names": ["a"]} and w.metadata == {"training": {"steps": 9}}
    assert all(torch.equal(w.state_dict[k], v) for k, v in state.items())
    assert [p.name for p in tmp_path.iterdir()] == ["w.pt"]  # written under a temporary name, then renamed


def test_the_loaders_errors_are_one_line_naming_the_file(tmp_path):
    save_weights(tmp_path / "sqair.pt", "sqair", {}, {"w": torch.zeros(2)})
    with pytest.raises(InputError) as err:
        load_weights(tmp_path / "sqair.pt", expect="hart")
    assert _one_line(err) == f"{tmp_path / 'sqair.pt'} holds SQAIR weights (sqair), not hart"
    save_weights(tmp_path / "nan.pt", "hart", {}, {"fine": torch.zeros(2), "bad": torch.tensor([1.0, float("nan")])})
    with pytest.raises(InputError, match=r"nan.pt: tensor bad holds NaN values") as err:
        load_weights(tmp_path / "nan.pt")
    _one_line(err)
    save_weights(tmp_path / "inf.pt", "hart", {}, {"bad": torch.tensor([float("-inf")])})
    with pytest.raises(InputError, match=r"inf.pt: tensor bad holds infinite values"):
        load_weights(tmp_path / "inf.pt")
    (tmp_path / "text.pt").write_text("not a torch file\n")
    with pytest.raises(InputError, match=r"text.pt is not a readable torch weights file") as err:
        load_weights(tmp_path / "text.pt")
    _one_line(err)
    with pytest.raises(InputError, match="weights file not found"):
        load_weights(tmp_path / "none.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(InputError, match="not an attentrack weights file"):
        load_weights(tmp_path / "list.pt")
    torch.save({"format": FORMAT + 1, "model_id": "hart", "config": {}, "state_dict": {}}, tmp_path / "future.pt")
    with pytest.raises(InputError, match=f"has weights format {FORMAT + 1}; this attentrack reads format {FORMAT}"):
        load_weights(tmp_path / "future.pt")
    torch.save({"format": "attentrack-hart-1", "config": {}, "state_dict": {}}, tmp_path / "old.pt")
    with pytest.raises(InputError, match=r"holds HART weights \(hart\) in an older attentrack format; .*"
                                         r"attentrack weights upgrade"):
        load_weights(tmp_path / "old.pt")


def test_build_refuses_configs_and_tensors_that_do_not_fit(tmp_path):
    module = nn.Linear(2, 3)
    save_weights(tmp_path / "lin.pt", "lin", {"out": 3, "colour": "red"}, module.state_dict())
    w = load_weights(tmp_path / "lin.pt")

    def make(config):
        return nn.Linear(2, **config)

    with pytest.raises(InputError, match=r"lin.pt: this version of attentrack cannot build its lin config"):
        w.build(make)
    w.config = {"out_features": 4}
    with pytest.raises(InputError, match=r"tensor weight has shape \(3, 2\), the lin model needs \(4, 2\)"):
        w.build(make)
    w.config = {"out_features": 3, "bias": False}
    with pytest.raises(InputError, match="unexpected tensor bias"):
        w.build(make)
    w.config = {"out_features": 3}
    assert torch.equal(w.build(make).weight, module.weight)


def test_every_shipped_file_is_in_the_one_format():
    for rel, model_id in SHIPPED.items():
        path = REPO / rel
        assert path.stat().st_size < 20e6, rel
        blob = torch.load(path, map_location="cpu", weights_only=True)
        assert blob["format"] == FORMAT and blob["model_id"] == model_id, rel
        assert "training" in blob["metadata"], rel


def test_every_model_round_trips(tmp_path):
    from attentrack.generative.aligndraw import AlignDRAW, AlignDRAWConfig
    from attentrack.generative.classifier import ClassifierConfig, DigitClassifier
    from attentrack.generative.draw import DRAW, DRAWConfig
    from attentrack.generative.face.model import FaceConfig, FaceModel, load_face_model
    from attentrack.generative.registry import load_weights as load_generative
    from attentrack.generative.registry import save_weights as save_generative
    from attentrack.saliency.models import SmallCNN, SmallCNNConfig, load_classifier
    from attentrack.tracker.hart.model import HART, HARTConfig
    from attentrack.tracker.hart.model import load_weights as load_hart
    from attentrack.tracker.hart.model import save_weights as save_hart
    from attentrack.tracker.sqair.model import SQAIR, SQAIRConfig
    from attentrack.tracker.sqair.model import load_weights as load_sqair
    from attentrack.tracker.sqair.model import save_weights as save_sqair

    def same(a: nn.Module, b: nn.Module):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)

    hart = HART(HARTConfig(glimpse_size=16, backbone_width=4, rnn_units=8))
    save_hart(hart, tmp_path / "hart.pt", {"training": {"steps": 1}})
    same(hart, load_hart(tmp_path / "hart.pt"))
    sqair = SQAIR(SQAIRConfig(height=20, width=20, glimpse=6, what_dim=4, hidden=8))
    save_sqair(sqair, tmp_path / "sqair.pt", {"background": torch.zeros(4, 4, dtype=torch.uint8)})
    same(sqair, load_sqair(tmp_path / "sqair.pt"))
    for model in (DRAW(DRAWConfig(steps=2, enc_units=4, dec_units=4, latent=2)),
                  AlignDRAW(AlignDRAWConfig(steps=2, enc_units=4, dec_units=4, latent=2, lang_units=4)),
                  DigitClassifier(ClassifierConfig(channels1=2, channels2=2, hidden=4))):
        save_generative(model, tmp_path / f"{model.model_id}.pt")
        back = load_generative(tmp_path / f"{model.model_id}.pt", expect=model.model_id)
        assert type(back) is type(model) and back.config == model.config
        same(model, back)
    face = FaceModel.create(FaceConfig(latents=4, hidden=16, proposer_channels=4))
    face.meta = {"training": {"steps": 2}}
    face.save(tmp_path / "face.pt")
    back = load_face_model(tmp_path / "face.pt")
    same(face.parts(), back.parts())
    assert back.config == face.config and back.meta == face.meta
    cnn = SmallCNN(SmallCNNConfig(widths=[4, 4], hidden=4))
    save_weights(tmp_path / "cnn.pt", "saliency-classifier", cnn.config.to_dict(), cnn.state_dict())
    same(cnn, load_classifier(tmp_path / "cnn.pt"))
    with pytest.raises(InputError, match=r"holds HART weights \(hart\), not saliency-classifier"):
        load_classifier(tmp_path / "hart.pt")
    with pytest.raises(InputError, match=r"holds face model weights \(face\), not a generative model's"):
        load_generative(tmp_path / "face.pt")


def test_third_party_state_dicts_are_checked_too(tmp_path):
    torch.save({"conv.weight": torch.tensor([float("nan")])}, tmp_path / "tv.pt")
    with pytest.raises(InputError, match="tensor conv.weight holds NaN"):
        read_state_dict(tmp_path / "tv.pt")
    torch.save({"a": 1}, tmp_path / "nodict.pt")
    with pytest.raises(InputError, match="holds no state_dict"):
        read_state_dict(tmp_path / "nodict.pt")


OLD_LAYOUTS = {  # what attentrack wrote before the one format (see tracker/weights_upgrade.py)
    "hart": lambda s: {"format": "attentrack-hart-1", "config": {"arch": "paper"}, "state_dict": s,
                       "training": '{"steps": 3}'},
    "sqair": lambda s: {"model": "sqair", "config": '{"hidden": 8}', "state_dict": s, "training": '{"steps": 3}',
                        "background": torch.zeros(2, 2, dtype=torch.uint8)},
    "draw": lambda s: {"model_id": "draw", "config": {"steps": 2}, "state_dict": s,
                       "extra": {"training": '{"steps": 3}'}},
    "face": lambda s: {"format": "attentrack-face-1", "config": '{"latents": 4}', "vae": s, "proposer": s,
                       "background": s, "meta": '{"training": {"steps": 3}}'},
    "saliency-classifier": lambda s: {"config": {"hidden": 8}, "state_dict": s, "info": {"steps": 3}},
}


@pytest.mark.parametrize("model_id", sorted(OLD_LAYOUTS))
def test_old_layouts_upgrade_to_the_one_format(tmp_path, model_id):
    state = {"a.weight": torch.randn(2, 2)}
    torch.save(OLD_LAYOUTS[model_id](state), tmp_path / "old.pt")
    assert upgrade_file(tmp_path / "old.pt", tmp_path / "new.pt") == model_id
    w = load_weights(tmp_path / "new.pt", expect=model_id)
    assert w.metadata["training"]["steps"] == 3 and isinstance(w.config, dict) and w.config
    for k, v in w.state_dict.items():
        assert torch.equal(v, state["a.weight"]) and k.endswith("a.weight")
    if model_id == "face":
        assert sorted(w.state_dict) == ["background.a.weight", "proposer.a.weight", "vae.a.weight"]
    if model_id == "sqair":
        assert w.metadata["background"].dtype == torch.uint8
    with pytest.raises(InputError, match="already in weights format"):
        upgrade_file(tmp_path / "new.pt", tmp_path / "again.pt")


def test_weights_commands(tmp_path):
    import json

    from click.testing import CliRunner

    from attentrack.tools.weights_cmd import weights_group

    torch.save(OLD_LAYOUTS["draw"]({"w": torch.ones(3)}), tmp_path / "old.pt")
    runner = CliRunner()
    done = runner.invoke(weights_group, ["upgrade", str(tmp_path / "old.pt"), str(tmp_path / "new.pt")])
    assert done.exit_code == 0 and "draw weights" in done.output
    shown = runner.invoke(weights_group, ["info", str(tmp_path / "new.pt"), "--json"])
    info = json.loads(shown.output)
    assert info["model_id"] == "draw" and info["config"] == {"steps": 2} and info["numbers"] == 3
    assert info["metadata"]["training"]["steps"] == 3
    text = runner.invoke(weights_group, ["info", str(REPO / "tracker" / "weights" / "sqair_moving_mnist.pt")])
    assert "sqair, 62 tensors" in text.output and '"height": 50' in text.output
