"Behaviour of cpc.augment: batched crop/flip, per-image AutoAugment, normalisation, large-image transforms."
import numpy as np, pytest, torch
import torch.nn.functional as F
from PIL import Image
from torchvision import transforms
from cpc.augment import (CIFAR10_POLICY, IMAGENET_MEAN, IMAGENET_STD, _draw_autoaugment, apply_autoaugment,
                         autoaugment, crop_flip, large_image_transform, normalize, strong_augment, weak_augment)

MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)


def gen(seed): return torch.Generator().manual_seed(seed)


def test_normalize_matches_torchvision():
    x = torch.randint(0, 256, (3, 3, 5, 7), dtype=torch.uint8)
    ref = torch.stack([transforms.Normalize(MEAN, STD)(img.float() / 255) for img in x])
    torch.testing.assert_close(normalize(x, MEAN, STD), ref)


@pytest.mark.parametrize("bad,msg", [(torch.zeros(2, 3, 4, 4), "got torch.float32"),
                                     (torch.zeros(3, 4, 4, dtype=torch.uint8), "shape (3, 4, 4)"),
                                     (np.zeros((2, 3, 4, 4), np.uint8), "got ndarray")])
def test_bad_images_rejected(bad, msg):
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        weak_augment(bad, MEAN, STD)


def test_crop_is_a_shifted_window_of_the_zero_padded_image():
    # distinct non-zero values: each output pixel says where in the padded image it came from
    x = torch.arange(1, 1 + 6 * 6, dtype=torch.uint8).view(1, 1, 6, 6).repeat(500, 1, 1, 1)
    out = crop_flip(x, pad=2, flip=False, generator=gen(0))
    xp = F.pad(x[0, 0], (2, 2, 2, 2))
    seen = set()
    for o in out[:, 0]:
        hits = [(i, j) for i in range(5) for j in range(5) if torch.equal(xp[i:i + 6, j:j + 6], o)]
        assert len(hits) == 1
        seen.add(hits[0])
    assert len(seen) == 25  # all offsets in [0, 2*pad] x [0, 2*pad] occur


def test_flip_rate_and_flip_only():
    x = torch.arange(8, dtype=torch.uint8).view(1, 1, 1, 8).repeat(4000, 3, 5, 1)
    out = crop_flip(x, pad=0, flip=True, generator=gen(1))
    flipped = (out == x.flip(-1)).flatten(1).all(1)
    same = (out == x).flatten(1).all(1)
    assert (flipped ^ same).all()
    assert 0.46 < flipped.float().mean() < 0.54


def test_weak_augment_deterministic_and_any_shape():
    x = torch.randint(0, 256, (32, 1, 28, 28), dtype=torch.uint8)
    a = weak_augment(x, (0.3,), (0.35,), generator=gen(5))
    assert a.shape == x.shape and a.dtype == torch.float32
    assert torch.equal(a, weak_augment(x, (0.3,), (0.35,), generator=gen(5)))
    assert not torch.equal(a, weak_augment(x, (0.3,), (0.35,), generator=gen(6)))


def test_autoaugment_policy_is_torchvisions_cifar10_table():
    assert len(CIFAR10_POLICY) == 25
    assert CIFAR10_POLICY[0] == (("Invert", 0.1, None), ("Contrast", 0.2, 6))


def test_autoaugment_draws_are_per_image():
    x = torch.zeros(2000, 3, 8, 8, dtype=torch.uint8)
    sub, apply, negate = _draw_autoaugment(x, gen(0))
    counts = torch.bincount(sub, minlength=25)
    assert (counts > 40).all()  # ~80 each
    # op application rate follows the sub-policy's probability
    p0 = torch.tensor([ops[0][1] for ops in CIFAR10_POLICY])
    assert abs(apply[:, 0].float().mean() - p0[sub].mean()) < 0.03
    assert 0.45 < negate.float().mean() < 0.55


def test_autoaugment_unapplied_images_unchanged_and_applied_changed():
    x = torch.randint(0, 256, (50, 3, 32, 32), dtype=torch.uint8)
    sub = torch.full((50,), 21)  # TranslateY 0.9 bin 9, TranslateY 0.7 bin 9: always changes a random image
    none = torch.zeros(50, 2, dtype=torch.bool)
    assert torch.equal(apply_autoaugment(x, sub, none, none), x)
    out = apply_autoaugment(x, sub, ~none, none)
    assert (out != x).flatten(1).any(1).all()


def test_strong_augment_changes_images_and_stays_in_range():
    x = torch.randint(0, 256, (256, 3, 32, 32), dtype=torch.uint8)
    u8 = autoaugment(x, gen(0))
    assert u8.dtype == torch.uint8 and u8.shape == x.shape
    assert (u8 != x).flatten(1).any(1).float().mean() > 0.5
    out = strong_augment(x, MEAN, STD, generator=gen(0))
    lo = normalize(torch.zeros(1, 3, 1, 1, dtype=torch.uint8), MEAN, STD)
    hi = normalize(torch.full((1, 3, 1, 1), 255, dtype=torch.uint8), MEAN, STD)
    assert ((out >= lo - 1e-6) & (out <= hi + 1e-6)).all()
    assert torch.equal(out, strong_augment(x, MEAN, STD, generator=gen(0)))


def test_large_image_transform_center_crop_and_errors():
    arr = np.random.default_rng(0).integers(0, 256, (240, 300, 3), dtype=np.uint8)
    out = large_image_transform(False, size=200, resize=None)(Image.fromarray(arr))
    ref = normalize(torch.from_numpy(arr[20:220, 50:250]).permute(2, 0, 1)[None].contiguous(), IMAGENET_MEAN, IMAGENET_STD)[0]
    torch.testing.assert_close(out, ref)
    assert large_image_transform(True)(Image.fromarray(arr)).shape == (3, 224, 224)
    with pytest.raises(ValueError, match="size must be a positive int, got 0"):
        large_image_transform(True, size=0)
