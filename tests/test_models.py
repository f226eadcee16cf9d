"Behaviour of cpc.models: output shapes, feature sizes, registry and weight-loading errors."
import pytest, torch
from cpc.models import ProjectionHead


@pytest.mark.parametrize("hidden", [None, 32])
def test_projection_head_shape_and_grad(hidden):
    g = ProjectionHead(16, 8, hidden=hidden)
    v = torch.randn(4, 16, requires_grad=True)
    out = g(v)
    assert out.shape == (4, 8)
    out.sum().backward()
    assert v.grad is not None and v.grad.abs().sum() > 0


@pytest.mark.parametrize("kw", [dict(in_dim=0), dict(in_dim=16, out_dim=2.5), dict(in_dim=16, hidden=True)])
def test_projection_head_bad_dims(kw):
    with pytest.raises(ValueError, match="must be a positive int"):
        ProjectionHead(**kw)


from cpc.models import MODELS, create_model, find_resnet50_weights, resnet50


@pytest.mark.parametrize("name,in_ch,size,feat", [("small_cnn", 1, 28, 128), ("small_cnn", 3, 32, 128),
                                                   ("preact_resnet18", 3, 32, 512), ("preact_resnet18", 1, 28, 512),
                                                   ("resnet50", 3, 64, 2048)])
def test_models_return_logits_and_features(name, in_ch, size, feat):
    m = create_model(name, 7, in_channels=in_ch)
    logits, v = m(torch.randn(2, in_ch, size, size))
    assert logits.shape == (2, 7) and v.shape == (2, feat) and m.feat_dim == feat
    # the head is linear in the features: logits are exactly head(v)
    torch.testing.assert_close(logits, m.head(v))


def test_registry_names_and_unknown():
    assert set(MODELS) == {"preact_resnet18", "resnet18", "resnet50", "small_cnn", "cnn_fc"}
    with pytest.raises(ValueError, match=r"unknown model 'vgg'.*known models: \['cnn_fc', 'preact_resnet18', 'resnet18', 'resnet50', 'small_cnn'\]"):
        create_model("vgg", 10)
    with pytest.raises(ValueError, match="'preact_resnet18' has no pretrained weights"):
        create_model("preact_resnet18", 10, weights_path="x.pth")


def test_resnet50_missing_weights_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "checkpoints")):
        create_model("resnet50", 14, pretrained=True)
    with pytest.raises(FileNotFoundError, match="weights_path"):
        find_resnet50_weights(tmp_path / "absent.pth")


def test_resnet50_loads_cached_weights_and_drops_fc(tmp_path, monkeypatch):
    import torchvision
    ref = torchvision.models.resnet50()
    (tmp_path / "checkpoints").mkdir()
    torch.save(ref.state_dict(), tmp_path / "checkpoints" / "resnet50-0676ba61.pth")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    m = create_model("resnet50", 14, pretrained=True)
    sd = m.body.state_dict()
    assert not any(k.startswith("fc.") for k in sd)
    for k, v in ref.state_dict().items():
        if not k.startswith("fc."): assert torch.equal(sd[k], v), k
    assert m.head.out_features == 14
