"""Tests for nn.data.transforms: geometry checked through image moments."""

import numpy as np
import pytest

from nn.data import transforms as T


def bar(h=28, w=28):
    img = np.zeros((h, w), np.float32)
    img[12:16, 4:24] = 1.0  # thick horizontal bar centred at (13.5, 13.5)
    return img


def blob(h=28, w=28, r=4.0):
    yy, xx = np.mgrid[:h, :w]
    return (((yy - 13.5) ** 2 + (xx - 13.5) ** 2) <= r * r).astype(np.float32)


def moments(a):
    """Mass, and the principal-axis angle (degrees, y axis pointing up) and central second moments."""
    a = np.asarray(a, np.float64)
    h, w = a.shape
    yy, xx = np.mgrid[:h, :w]
    m = a.sum()
    x = xx - (xx * a).sum() / m
    y = -(yy - (yy * a).sum() / m)
    mxx, myy, mxy = (a * x * x).sum() / m, (a * y * y).sum() / m, (a * x * y).sum() / m
    return m, np.degrees(0.5 * np.arctan2(2 * mxy, mxx - myy)), mxx + myy


@pytest.mark.parametrize("angle", [15.0, -15.0, 40.0])
def test_rotation_turns_principal_axis_counter_clockwise(angle):
    img = bar()
    m0, a0, _ = moments(img)
    m1, a1, _ = moments(T.rotate(img, angle))
    assert abs(a0) < 1e-6
    assert abs(a1 - angle) < 2.0
    assert abs(m1 - m0) / m0 < 0.05


def test_rotation_90_moves_top_to_left():
    img = np.zeros((5, 5), np.float32)
    img[0, 2] = 1.0  # top middle
    out = T.rotate(img, 90)
    assert out[2, 0] == pytest.approx(1.0) and out.sum() == pytest.approx(1.0)


def test_rotation_zero_is_identity_and_keeps_dtype():
    img = np.random.default_rng(0).integers(0, 256, (3, 28, 28)).astype(np.uint8)
    out = T.rotate(img, 0)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, img)
    f = img.astype(np.float32)
    np.testing.assert_allclose(T.RandomRotation((0, 0), seed=1)(f), f)


def test_zoom_scales_second_moments():
    img = blob()
    _, _, s0 = moments(img)
    for s in (1.5, 0.7):
        out = T.RandomAffine(0, scale=(s, s), seed=0)(img)
        m1, _, s1 = moments(out)
        assert s1 / s0 == pytest.approx(s * s, rel=0.12)
        assert m1 / img.sum() == pytest.approx(s * s, rel=0.12)  # area grows by s^2 too


def test_translate_shifts_centre():
    out = T.affine(bar(), translate=(3, -2))
    np.testing.assert_array_equal(out[10:14, 7:27], 1.0)
    assert out.sum() == pytest.approx(80.0)


def test_random_affine_ranges_and_reproducible():
    x = np.random.default_rng(0).random((8, 1, 12, 12)).astype(np.float32)
    t1 = T.RandomAffine(20, translate=(0.1, 0.1), scale=(0.9, 1.1), seed=3)
    t2 = T.RandomAffine(20, translate=(0.1, 0.1), scale=(0.9, 1.1), seed=3)
    np.testing.assert_array_equal(t1.batch(x), t2.batch(x))
    a, t, s = T.RandomAffine(20, translate=(0.1, 0.2), scale=(0.9, 1.1), seed=0).sample_params(1000, 10, 10)
    assert a.min() >= -20 and a.max() <= 20
    assert np.abs(t[:, 0]).max() <= 1.0 and np.abs(t[:, 1]).max() <= 2.0 and np.abs(t[:, 1]).max() > 1.0
    assert s.min() >= 0.9 and s.max() <= 1.1


def test_batch_equals_per_image_with_same_params():
    x = np.random.default_rng(1).random((5, 2, 9, 11)).astype(np.float32)
    angles = np.array([0, 10, -35, 90, 180.0])
    out = T.affine_batch(x, angles, np.zeros((5, 2)), np.ones(5))
    for k in range(5):
        np.testing.assert_allclose(out[k], T.rotate(x[k], angles[k]), atol=1e-6)
    np.testing.assert_allclose(out[4], x[4, :, ::-1, ::-1], atol=1e-5)  # 180 degrees is exact


def test_flip_exact_and_seeded():
    img = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(img), img[..., ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(img), img)
    x = np.random.default_rng(0).random((50, 1, 3, 4))
    out = T.RandomHorizontalFlip(seed=5).batch(x)
    flipped = np.array([np.array_equal(o, xi[..., ::-1]) for o, xi in zip(out, x)])
    same = np.array([np.array_equal(o, xi) for o, xi in zip(out, x)])
    assert np.all(flipped ^ same) and 10 < flipped.sum() < 40
    np.testing.assert_array_equal(out, T.RandomHorizontalFlip(seed=5).batch(x))


def test_pad_and_random_crop_shapes():
    img = np.ones((1, 28, 28), np.float32)
    assert T.Pad(2)(img).shape == (1, 32, 32)
    assert T.Pad((1, 2))(img).shape == (1, 32, 30)
    assert T.Pad((1, 2, 3, 4))(img[0]).shape == (34, 32)
    assert T.RandomCrop(20)(img).shape == (1, 20, 20)
    assert T.RandomCrop((24, 26), padding=4, seed=0).batch(np.ones((7, 3, 28, 28))).shape == (7, 3, 24, 26)
    with pytest.raises(ValueError):
        T.RandomCrop(30)(img)


def test_random_crop_is_a_window_of_the_padded_image_and_reproducible():
    x = np.random.default_rng(0).random((20, 2, 8, 8)).astype(np.float32)
    out = T.RandomCrop(8, padding=2, seed=4).batch(x)
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    for k in range(20):
        hits = [(i, j) for i in range(5) for j in range(5) if np.array_equal(padded[k, :, i:i + 8, j:j + 8], out[k])]
        assert hits
    np.testing.assert_array_equal(out, T.RandomCrop(8, padding=2, seed=4).batch(x))
    one = T.RandomCrop(8, padding=2, seed=9)
    assert any(not np.array_equal(one(x[0]), x[0]) for _ in range(10))


def test_to_tensor_layouts():
    hw = np.full((5, 6), 255, np.uint8)
    out = T.ToTensor()(hw)
    assert out.shape == (1, 5, 6) and out.dtype == np.float32 and out.max() == 1.0
    hwc = np.zeros((5, 6, 3), np.uint8)
    hwc[..., 1] = 51
    out = T.ToTensor()(hwc)
    assert out.shape == (3, 5, 6) and np.allclose(out[1], 0.2) and np.all(out[0] == 0)
    assert T.ToTensor()(np.zeros((3, 5, 6), np.uint8)).shape == (3, 5, 6)
    assert T.ToTensor().batch(np.zeros((4, 5, 6), np.uint8)).shape == (4, 1, 5, 6)


def test_normalize_and_compose():
    x = np.stack([np.full((2, 2), 1.0), np.full((2, 2), 3.0)]).astype(np.float32)
    out = T.Normalize([0.5, 1.0], [0.5, 2.0])(x)
    np.testing.assert_allclose(out[0], 1.0)
    np.testing.assert_allclose(out[1], 1.0)
    pipe = T.Compose([T.ToTensor(), T.Pad(2), T.Normalize(0.5, 0.5)])
    out = pipe(np.zeros((28, 28), np.uint8))
    assert out.shape == (1, 32, 32) and np.allclose(out, -1.0)
    outb = pipe.batch(np.zeros((3, 28, 28), np.uint8))
    assert outb.shape == (3, 1, 32, 32) and np.allclose(outb, -1.0)
    with pytest.raises(ValueError):
        T.Normalize(0.0, 0.0)


def test_rotation_reproducible_with_seed_or_generator():
    img = bar()
    a = [T.RandomRotation(30, seed=11)(img) for _ in range(2)]
    np.testing.assert_array_equal(a[0], a[1])
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    np.testing.assert_array_equal(T.RandomRotation(30, seed=g1)(img), T.RandomRotation(30, seed=g2)(img))
    r = T.RandomRotation(30, seed=0)
    assert not np.array_equal(r(img), r(img))


@pytest.mark.torch
def test_bilinear_matches_torch_grid_sample():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.random((4, 2, 15, 15)).astype(np.float32)
    angles = np.array([7.0, -33.0, 90.0, 151.0])
    scales = np.array([1.0, 1.3, 0.8, 1.1])
    shifts = rng.uniform(-2, 2, size=(4, 2))
    ours = T.affine_batch(x, angles, shifts, scales)
    # align_corners=True: normalised coords [-1, 1] <-> pixel centres, so src = A p + b maps to theta directly
    a = np.deg2rad(angles)
    cos, sin = np.cos(a) / scales, np.sin(a) / scales
    half = (15 - 1) / 2
    bx = -(cos * shifts[:, 0] - sin * shifts[:, 1]) / half
    by = -(sin * shifts[:, 0] + cos * shifts[:, 1]) / half
    theta = torch.tensor(np.stack([np.stack([cos, -sin, bx], 1), np.stack([sin, cos, by], 1)], 1), dtype=torch.float32)
    grid = torch.nn.functional.affine_grid(theta, (4, 2, 15, 15), align_corners=True)
    ref = torch.nn.functional.grid_sample(torch.from_numpy(x), grid, mode="bilinear", padding_mode="zeros",
                                          align_corners=True)
    np.testing.assert_allclose(ours, ref.numpy(), atol=1e-4)


@pytest.mark.parametrize("make", [
    lambda: T.RandomRotation(10, seed=0), lambda: T.RandomAffine(5, scale=(0.9, 1.1), seed=0),
    lambda: T.RandomCrop(8, padding=1, seed=0),
    lambda: T.Normalize(0.5, 0.25), lambda: T.RandomHorizontalFlip(seed=0),  # (these two were right already)
])
def test_batch_keeps_the_layout_of_its_images(make):
    """batch() of N x H x W gives what the per-image call gives for each H x W image (as the DataLoader's slow path)."""
    x = np.random.default_rng(0).random((6, 8, 8)).astype(np.float32)
    out = make().batch(x)
    assert out.shape == (6, 8, 8)
    per_image = make()
    if isinstance(per_image, T.Normalize):
        np.testing.assert_allclose(out, np.stack([per_image(xi) for xi in x]))
    assert per_image(x[0]).shape == (8, 8)
    assert make().batch(x[:, None]).shape == (6, 1, 8, 8)


def test_loader_gives_the_same_shapes_on_its_fast_and_slow_paths():
    from nn.data import DataLoader, Dataset, TensorDataset

    imgs = np.random.default_rng(0).random((6, 8, 8)).astype(np.float32)
    labels = np.arange(6)

    class Plain(Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return imgs[i], labels[i]

    for tf in (T.RandomRotation(10, seed=0), T.RandomCrop(8, padding=1, seed=0)):
        fast = next(iter(DataLoader(TensorDataset(imgs, labels), 3, transform=tf)))[0]
        slow = next(iter(DataLoader(Plain(), 3, transform=tf)))[0]
        assert fast.shape == slow.shape == (3, 8, 8)


def test_normalize_checks_channels():
    with pytest.raises(ValueError, match=r"Normalize: the image has 1 channel\(s\) \(shape \(1, 4, 4\)\) but 3"):
        T.Normalize([0.5, 0.5, 0.5], [0.2, 0.2, 0.2])(np.zeros((1, 4, 4), np.float32))
    with pytest.raises(ValueError, match="has 1 channel"):
        T.Normalize([0.5, 0.5, 0.5], [0.2, 0.2, 0.2]).batch(np.zeros((5, 1, 4, 4), np.float32))
    with pytest.raises(ValueError, match="has 1 channel"):
        T.Normalize([0.5, 0.4], [0.2, 0.2])(np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="2 means and 3 stds"):
        T.Normalize([0.5, 0.4], [0.2, 0.2, 0.2])
    out = T.Normalize([0.0, 10.0], [1.0, 1.0]).batch(np.zeros((3, 2, 4, 4), np.float32))
    assert out.shape == (3, 2, 4, 4) and np.all(out[:, 1] == -10.0)
    out = T.Normalize(1.0, 2.0).batch(np.ones((2, 4, 4), np.float32))  # N x H x W: one channel, not N channels
    assert out.shape == (2, 4, 4) and np.all(out == 0.0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(degrees=10, translate=0.1), r"RandomAffine: translate must be a pair of numbers, got 0.1"),
    (dict(degrees=10, translate=(0.1, 0.1, 0.1)), r"translate must be a pair"),
    (dict(degrees=10, scale=1.1), r"RandomAffine: scale must be a pair of numbers, got 1.1"),
    (dict(degrees=(10,)), r"RandomAffine: degrees must be a pair of numbers, got \(10,\)"),
    (dict(degrees=(10, -10)), r"RandomAffine: degrees range must be \(min, max\)"),
    (dict(degrees=10, translate=(0.1, 2.0)), r"translate fractions must be in \[0, 1\]"),
    (dict(degrees=10, scale=(1.1, 0.9)), r"scale must be \(lo, hi\)"),
])
def test_random_affine_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        T.RandomAffine(**kwargs)
