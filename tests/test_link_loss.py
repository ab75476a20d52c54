"""link_activation / link_loss: scikit-learn's MLP output layer, against its
twins in denseops.reference."""

import denseops
import numpy as np
import pytest
from denseops import reference
from helpers import assert_close

LINKS = reference.LINKS


@pytest.mark.parametrize("link", LINKS)
@pytest.mark.parametrize("weighted", [False, True])
def test_link_loss_matches_the_reference(link, weighted, dtype, rng):
    B, K = 37, 5
    z = rng.normal(size=(B, K)).astype(dtype)
    if link in ("logistic", "softmax"):
        y = (rng.random((B, K)) < 0.4).astype(dtype)
        if link == "softmax":
            y = np.eye(K, dtype=dtype)[rng.integers(0, K, B)]
    else:
        y = rng.random((B, K)).astype(dtype) * 2
    w = rng.integers(0, 4, B).astype(dtype) if weighted else np.ones(B, dtype)
    dz = np.empty_like(z)
    loss = denseops.link_loss(z, y, link, dz=dz, sample_weight=w if weighted else None)
    ref_loss, ref_dz = reference.link_loss(z, y, link, sample_weight=w)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert loss == pytest.approx(ref_loss, rel=tol)
    np.testing.assert_allclose(
        dz, ref_dz, rtol=tol * 10, atol=tol, err_msg=f"max abs diff {np.abs(dz - ref_dz).max()}"
    )


@pytest.mark.parametrize("link", LINKS)
def test_link_activation_matches_the_reference_in_place_and_not(link, dtype, rng):
    z = rng.normal(size=(9, 4)).astype(dtype) * 5
    expected = reference.link_activation(z, link)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(denseops.link_activation(z, link), expected, rtol=tol)
    out = denseops.link_activation(z, link, out=z)
    assert out is z
    np.testing.assert_allclose(z, expected, rtol=tol)


def test_link_losses_stay_finite_far_from_zero(dtype):
    z = np.array([[-800.0, 800.0]], dtype)
    y = np.array([[1.0, 0.0]], dtype)
    for link in ("logistic", "softmax"):
        dz = np.empty_like(z)
        loss = denseops.link_loss(z, y, link, dz=dz)
        # the clipped probability bounds each term by -log(eps), as in scikit-learn
        assert np.isfinite(loss) and loss <= 2 * -np.log(np.finfo(dtype).eps) + 1e-3
        assert np.isfinite(dz).all()
    assert np.array_equal(denseops.link_activation(z, "logistic"), np.array([[0, 1]], dtype))


def test_link_loss_rejects_bad_arguments():
    z = np.zeros((3, 2))
    with pytest.raises(ValueError, match="link must be one of"):
        denseops.link_loss(z, z, "probit")
    with pytest.raises(ValueError, match=r"targets must have z's shape \(3, 2\), got \(3, 3\)"):
        denseops.link_loss(z, np.zeros((3, 3)), "identity")
    with pytest.raises(TypeError, match="same dtype"):
        denseops.link_loss(z, z.astype(np.float32), "identity")
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(3,\)"):
        denseops.link_loss(z, z, "identity", sample_weight=np.ones(2))
    with pytest.raises(ValueError, match="sum to a finite number > 0"):
        denseops.link_loss(z, z, "identity", sample_weight=np.zeros(3))
    with pytest.raises(ValueError, match="2-D"):
        denseops.link_loss(np.zeros(3), np.zeros(3), "identity")
    with pytest.raises(ValueError, match="at least one row"):
        denseops.link_loss(np.zeros((0, 2)), np.zeros((0, 2)), "identity")
    with pytest.raises(
        ValueError, match=r"out has shape \(2, 2\) but the result has shape \(3, 2\)"
    ):
        denseops.link_activation(z, "exp", out=np.zeros((2, 2)))


@pytest.mark.parametrize("n", [0, 1, 17, 70_000])
def test_axpy_matches_the_reference_and_allows_x_is_y(n, dtype, rng):
    x = rng.normal(size=n).astype(dtype)
    y = rng.normal(size=n).astype(dtype)
    expected = reference.axpy(0.25, x, y)
    assert denseops.axpy(0.25, x, y) is None
    assert_close(y, expected.astype(dtype), k=2)
    expected = reference.axpy(1.0, y, y)
    denseops.axpy(1.0, y, y)
    assert_close(y, expected.astype(dtype), k=1)


def test_axpy_rejects_bad_arguments():
    y = np.zeros(4)
    with pytest.raises(ValueError, match=r"x has shape \(3,\) but y has shape \(4,\)"):
        denseops.axpy(1.0, np.zeros(3), y)
    with pytest.raises(TypeError, match="same dtype"):
        denseops.axpy(1.0, np.zeros(4, np.float32), y)
    with pytest.raises(ValueError, match="writable"):
        denseops.axpy(1.0, y, np.zeros(8)[::2])
