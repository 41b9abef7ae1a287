"""Retrieval recall@K against hand-worked rankings (ties, several captions per image, edge cases)."""

from __future__ import annotations

import pytest
import torch

from farslip_eval.metrics.retrieval import first_positive_rank, recall_at_k, retrieval_metrics


def test_hand_worked_ranks_with_several_positives() -> None:
    scores = torch.tensor([
        [0.1, 0.9, 0.5, 0.3],  # order 1,2,3,0; positives {0, 2} -> best at rank 1
        [0.8, 0.7, 0.6, 0.5],  # order 0,1,2,3; positives {3} -> rank 3
        [0.2, 0.1, 0.4, 0.3],  # order 2,3,0,1; positives {2} -> rank 0
    ])
    pos = torch.tensor([[1, 0, 1, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=torch.bool)
    assert first_positive_rank(scores, pos).tolist() == [1, 3, 0]
    r = recall_at_k(scores, pos, (1, 2, 3, 4, 10))
    assert r[1] == pytest.approx(100 / 3)
    assert r[2] == pytest.approx(200 / 3)
    assert r[3] == pytest.approx(200 / 3)
    assert r[4] == pytest.approx(100.0) and r[10] == pytest.approx(100.0)  # K > N means every candidate


def test_ties_are_broken_by_candidate_index() -> None:
    scores = torch.tensor([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]])
    pos = torch.tensor([[0, 0, 1], [1, 0, 0]], dtype=torch.bool)
    assert first_positive_rank(scores, pos).tolist() == [2, 0]
    assert recall_at_k(scores, pos, (1, 2, 3)) == {1: 50.0, 2: 50.0, 3: 100.0}


def test_both_directions_from_one_text_by_image_matrix() -> None:
    # 2 images, 3 texts; text 0 and 1 belong to image 0, text 2 to image 1.
    scores = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]])
    pos = torch.tensor([[1, 0], [1, 0], [0, 1]], dtype=torch.bool)
    m = retrieval_metrics(scores, pos, ks=(1, 2))
    # t2i: text0 rank0, text1 rank1, text2 rank0 -> R@1 = 2/3, R@2 = 1
    assert m["t2i_R@1"] == pytest.approx(200 / 3) and m["t2i_R@2"] == pytest.approx(100.0)
    # i2t: image0 column [0.9,0.2,0.3] -> text0 first (hit); image1 [0.1,0.8,0.7] -> text1 first (miss),
    # text2 second -> R@1 = 1/2, R@2 = 1
    assert m["i2t_R@1"] == pytest.approx(50.0) and m["i2t_R@2"] == pytest.approx(100.0)
    assert m["i2t_mean"] == pytest.approx(75.0)
    assert m["t2i_mean"] == pytest.approx((200 / 3 + 100) / 2)
    assert m["mean_recall"] == pytest.approx((50 + 100 + 200 / 3 + 100) / 4)


def test_merged_text_is_a_hit_for_any_of_its_images() -> None:
    scores = torch.tensor([[0.1, 0.2, 0.9]])  # best image is 2
    assert recall_at_k(scores, torch.tensor([[1, 0, 1]], dtype=torch.bool), (1,))[1] == 100.0
    assert recall_at_k(scores, torch.tensor([[1, 1, 0]], dtype=torch.bool), (1,))[1] == 0.0


def test_empty_and_malformed_inputs_raise() -> None:
    with pytest.raises(ValueError, match="empty"):
        recall_at_k(torch.zeros(0, 3), torch.zeros(0, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="empty"):
        recall_at_k(torch.zeros(2, 0), torch.zeros(2, 0, dtype=torch.bool))
    with pytest.raises(ValueError, match="no ground-truth"):
        recall_at_k(torch.zeros(2, 2), torch.tensor([[1, 0], [0, 0]], dtype=torch.bool))
    with pytest.raises(ValueError, match="equal-shaped"):
        recall_at_k(torch.zeros(2, 2), torch.zeros(2, 3, dtype=torch.bool))
