import math

import pytest
import torch

from training.tasks import Example
from training.rl import REWARD_CORRECT, REWARD_ELSE, REWARD_FORMAT, gaussian_log_prob, reward, rloo_advantages


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


def test_reward_levels():
    q = Example("arithmetic", "Compute 2+3.", "", "5", (2, "+", 3))
    assert reward(q, "5", closed=True) == REWARD_CORRECT == 100
    assert reward(q, "6", closed=True) == REWARD_FORMAT == 10
    assert reward(q, "five", closed=True) == REWARD_ELSE == 0
    assert reward(q, "5", closed=False) == REWARD_ELSE
