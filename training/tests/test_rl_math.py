import math

import pytest
import torch

from training.tasks import Example
from training import rollout as R
from training.rl import (REWARD_CORRECT, REWARD_ELSE, REWARD_FORMAT, dirichlet_log_prob, gaussian_log_prob, reward,
                         rloo_advantages)


def test_rloo_advantages_hand_computed():
    r = torch.tensor([100.0, 10.0, 0.0, 0.0, 5.0, 5.0, 5.0, 5.0])
    adv = rloo_advantages(r, 4)
    # prompt 1: 100 - 10/3, 10 - 100/3, 0 - 110/3, 0 - 110/3 ; prompt 2: all equal -> 0
    expected = [96.6666667, -23.3333333, -36.6666667, -36.6666667, 0, 0, 0, 0]
    assert adv.tolist() == pytest.approx(expected, abs=1e-5)


def test_rloo_groups_are_contiguous():
    adv = rloo_advantages(torch.tensor([1.0, 0.0, 0.0, 0.0]), 2)
    assert adv.tolist() == pytest.approx([1.0, -1.0, 0.0, 0.0])


def test_gaussian_log_prob_hand_computed():
    x, mean = torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0])
    # -(1 + 4) / (2 * 0.25) - (2 / 2) * log(2 pi 0.25) = -10 - log(pi / 2)
    assert gaussian_log_prob(x, mean, 0.5).item() == pytest.approx(-10 - math.log(math.pi / 2), abs=1e-5)


def test_gaussian_log_prob_matches_torch_normal_and_gradient():
    torch.manual_seed(0)
    x, mean = torch.randn(3, 16), torch.randn(3, 16, requires_grad=True)
    ours = gaussian_log_prob(x, mean, 0.3)
    ref = torch.distributions.Normal(mean, 0.3).log_prob(x).sum(-1)
    assert torch.allclose(ours, ref, atol=1e-4)
    ours.sum().backward()
    assert torch.allclose(mean.grad, (x - mean.detach()) / 0.09, atol=1e-4)


def test_dirichlet_log_prob_hand_computed():
    # Dir(1, 1, 1) is uniform on the simplex, of density Gamma(3) = 2; Dir(2, 1) at (0.3, 0.7): 2 * 0.3
    w = torch.tensor([[0.2, 0.5, 0.3]], dtype=torch.float64)
    assert dirichlet_log_prob(w, torch.ones(1, 3, dtype=torch.float64)).item() == pytest.approx(math.log(2))
    w2 = torch.tensor([0.3, 0.7], dtype=torch.float64)
    assert dirichlet_log_prob(w2, torch.tensor([2.0, 1.0], dtype=torch.float64)).item() == pytest.approx(math.log(0.6))


def test_dirichlet_draws_are_seeded_and_have_the_dirichlet_mean():
    """Drawn through Gamma draws with the rollout's generator (torch.distributions takes none): the same
    seed gives the same weights, and their mean is concentration / its sum."""
    p_top = torch.tensor([[0.5, 0.3, 0.1]])  # renormalised to 5/9, 3/9, 1/9
    conc = R.dirichlet_concentration(p_top, 3.0)
    assert conc.dtype == torch.float64 and conc[0].tolist() == pytest.approx([15 / 9, 9 / 9, 3 / 9], abs=1e-6)
    draw = lambda seed: R.sample_dirichlet(conc.expand(20000, 3), torch.Generator().manual_seed(seed))
    a, b = draw(1), draw(1)
    assert torch.equal(a, b) and not torch.equal(a, draw(2))
    assert torch.allclose(a.sum(-1), torch.ones(20000, dtype=torch.float64))
    assert a.mean(0).tolist() == pytest.approx([5 / 9, 3 / 9, 1 / 9], abs=0.01)
    # variance of a Dirichlet coordinate: m (1 - m) / (alpha + 1)
    assert a.var(0)[0].item() == pytest.approx((5 / 9) * (4 / 9) / 4, rel=0.05)
    # tiny probabilities get the floor concentration, and their draws stay finite
    tiny = R.dirichlet_concentration(torch.tensor([[1.0, 1e-12]]), 3.0)
    assert tiny[0, 1].item() == R.MIN_CONCENTRATION
    w = R.sample_dirichlet(tiny.expand(1000, 2), torch.Generator().manual_seed(0))
    assert torch.isfinite(dirichlet_log_prob(w, tiny.expand(1000, 2))).all()


def test_reward_levels():
    q = Example("arithmetic", "Compute 2+3.", "", "5", (2, "+", 3))
    assert reward(q, "5", closed=True) == REWARD_CORRECT == 100
    assert reward(q, "6", closed=True) == REWARD_FORMAT == 10
    assert reward(q, "five", closed=True) == REWARD_ELSE == 0
    assert reward(q, "5", closed=False) == REWARD_ELSE
