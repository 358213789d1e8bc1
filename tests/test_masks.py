import pytest
import torch

from genflows.data.masks import make_masks

SHAPE = (1, 28, 28)


def test_center_mask_hides_exactly_the_centre_square():
    m = make_masks(3, SHAPE, "center", size=14)
    assert m.shape == (3, 1, 28, 28)
    assert (1 - m).sum((1, 2, 3)).tolist() == [196.0] * 3
    assert (m[:, :, 7:21, 7:21] == 0).all() and m[:, :, :7].eq(1).all()


def test_center_mask_at_a_corner_as_the_coopflow_inpainting_script():
    m = make_masks(2, (3, 32, 32), "center", size=16, corner=7)
    assert (m[:, :, 7:23, 7:23] == 0).all() and (1 - m).sum().item() == 2 * 256
    from genflows.errors import GenflowsError

    with pytest.raises(GenflowsError, match="does not fit"):
        make_masks(1, (3, 32, 32), "center", size=16, corner=20)


@pytest.mark.parametrize("size", [9, 13, 18])
def test_square_masks_hide_one_square_of_the_stated_size_at_varying_places(size):
    m = make_masks(200, SHAPE, "square", size=size, seed=3)
    assert ((1 - m).sum((1, 2, 3)) == size * size).all()
    rows = (1 - m).amax(3).squeeze(1)  # which rows are touched
    assert (rows.sum(1) == size).all()
    assert len({tuple(r.tolist()) for r in rows}) > 5  # positions differ between images


@pytest.mark.parametrize("fraction", [0.3, 0.5, 0.7])
def test_pepper_masks_hide_the_stated_fraction(fraction):
    m = make_masks(500, SHAPE, "pepper", fraction=fraction, seed=1)
    hidden = 1 - m.mean((1, 2, 3))
    assert abs(hidden.mean().item() - fraction) < 0.005
    assert hidden.std().item() < 0.03  # per image too (binomial noise over 784 pixels)


def test_masks_are_a_fixed_function_of_index_and_seed():
    a = make_masks(10, SHAPE, "square", size=9, seed=7)
    b = make_masks(4, SHAPE, "square", size=9, seed=7, offset=6)
    assert torch.equal(a[6:], b)
    assert not torch.equal(a, make_masks(10, SHAPE, "square", size=9, seed=8))
