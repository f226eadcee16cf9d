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
