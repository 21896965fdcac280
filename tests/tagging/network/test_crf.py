"""The CRF head checked against brute force: enumerate every tag sequence of a short sentence.

Each case is a batch of sentences of mixed lengths (so masks are exercised), with and without
tag-scheme constraints; the enumeration then covers only the paths the scheme allows.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from birnn_tag.tagging.network.crf import CRFHead, marginals
from birnn_tag.tagging.network.viterbi import DISALLOWED, mask_scores, viterbi
from birnn_tag.tagging.network.transitions import allowed_transitions

INPUT_DIM = 6
LENGTHS = [4, 1, 3, 2]  # padded to 4 tokens; includes a one-token sentence
SCHEMES = {  # case name → (scheme or None, labels)
    "free-3": (None, ["O", "B-A", "I-A"]),
    "free-5": (None, ["O", "B-A", "I-A", "B-B", "I-B"]),
    "IOB2": ("IOB2", ["O", "B-A", "I-A", "B-B", "I-B"]),
    "BIOES": ("BIOES", ["O", "B-A", "I-A", "E-A", "S-A"]),
}


def make_head(case: str, seed: int = 0) -> CRFHead:
    """A float64 CRF head with random weights; forbidden moves get high raw scores, so masking must win."""
    scheme, labels = SCHEMES[case]
    allowed = allowed_transitions(scheme, labels) if scheme else None
    torch.manual_seed(seed)
    head = CRFHead(INPUT_DIM, len(labels), allowed).double()
    with torch.no_grad():
        for parameter, mask in zip(
            (head.transitions, head.start_transitions, head.end_transitions),
            (head.allowed_transitions, head.allowed_start, head.allowed_end),
        ):
            parameter.normal_()
            parameter[~mask] = 5.0  # would dominate every path if the mask were ignored
    return head


def make_batch(lengths: list[int] = LENGTHS, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Random features (batch, time, INPUT_DIM) float64 and a left-aligned mask (batch, time)."""
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(len(lengths), max(lengths), INPUT_DIM, generator=generator, dtype=torch.float64)
    mask = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]
    return features, mask


def enumerate_paths(head: CRFHead, emissions: torch.Tensor, length: int) -> list[tuple[float, tuple[int, ...]]]:
    """(score, path) of every allowed path over the first ``length`` emissions (time, num_tags), best first."""
    num_tags = emissions.shape[1]
    transitions, start, end = (p.detach() for p in (head.transitions, head.start_transitions, head.end_transitions))
    results = []
    for path in itertools.product(range(num_tags), repeat=length):
        moves = list(zip(path, path[1:]))
        if not (head.allowed_start[path[0]] and head.allowed_end[path[-1]]
                and all(head.allowed_transitions[a, b] for a, b in moves)):
            continue
        score = start[path[0]] + end[path[-1]] + sum(emissions[t, tag] for t, tag in enumerate(path))
        score = score + sum(transitions[a, b] for a, b in moves)
        results.append((float(score), path))
    return sorted(results, reverse=True)


def log_sum(paths: list[tuple[float, tuple[int, ...]]]) -> torch.Tensor:
    """log Σ exp(score) over enumerated paths, a float64 scalar."""
    return torch.logsumexp(torch.tensor([score for score, _ in paths], dtype=torch.float64), dim=0)


@pytest.fixture(params=list(SCHEMES))
def case(request) -> tuple[CRFHead, torch.Tensor, torch.Tensor, torch.Tensor, list]:
    """A head, a batch, its emissions and, per sentence, the enumerated allowed paths."""
    head = make_head(request.param)
    features, mask = make_batch()
    with torch.no_grad():
        emissions = head(features)  # (batch, time, num_tags)
    paths = [enumerate_paths(head, emissions[row], length) for row, length in enumerate(LENGTHS)]
    return head, features, mask, emissions, paths


def test_log_partition_is_logsumexp_over_all_paths(case):
    head, _, mask, emissions, paths = case
    expected = torch.stack([log_sum(row) for row in paths])  # (batch,)
    assert torch.allclose(head.log_partition(emissions, mask).detach(), expected, atol=1e-9)


def test_viterbi_is_the_best_enumerated_path(case):
    head, features, mask, emissions, paths = case
    tag_ids, confidences = head.decode(features, mask)
    _, best_scores = viterbi(emissions, mask, *head.scores())
    gold_scores = head.path_scores(emissions, tag_ids, mask).detach()  # (batch,): the loss's path score
    for row, length in enumerate(LENGTHS):
        best_score, best_path = paths[row][0]
        assert tuple(tag_ids[row, :length].tolist()) == best_path  # only allowed paths were enumerated
        assert best_scores[row].item() == pytest.approx(best_score, abs=1e-9)
        assert gold_scores[row].item() == pytest.approx(best_score, abs=1e-9)
        assert torch.all(tag_ids[row, length:] == 0) and torch.all(confidences[row, length:] == 0)


def test_k_best_is_the_enumerated_top_k_in_order(case):
    head, features, mask, _, paths = case
    k = 7  # more than the 2-3 paths a one-token sentence has
    tag_ids, scores = head.k_best(features, mask, k)
    assert tag_ids.shape == (len(LENGTHS), k, max(LENGTHS)) and scores.shape == (len(LENGTHS), k)
    for row, length in enumerate(LENGTHS):
        expected = paths[row][:k]
        for rank, (score, path) in enumerate(expected):
            assert scores[row, rank].item() == pytest.approx(score, abs=1e-9)
            assert tuple(tag_ids[row, rank, :length].tolist()) == path
        assert torch.all(scores[row, len(expected):] == float("-inf"))  # fewer than k paths: padded
        assert torch.all(tag_ids[row, len(expected):] == 0) and torch.all(tag_ids[row, :, length:] == 0)
    # Probabilities: each path's exp(score) over the sum over every path (the allowed ones, as
    # forbidden moves cost DISALLOWED), and 0 for the missing ones.
    _, log_probabilities = head.k_best_probabilities(features, mask, k)
    probabilities = log_probabilities.exp()
    for row in range(len(LENGTHS)):
        total = sum(math.exp(score) for score, _ in paths[row])
        expected = [math.exp(score) / total for score, _ in paths[row][:k]]
        assert probabilities[row, : len(expected)].tolist() == pytest.approx(expected, abs=1e-6)
        assert torch.all(probabilities[row, len(expected):] == 0)


def test_marginals_are_the_enumerated_marginals(case):
    head, features, mask, emissions, paths = case
    marginals = head.marginals(emissions, mask).detach()  # (batch, time, num_tags)
    for row, length in enumerate(LENGTHS):
        log_z = log_sum(paths[row])
        expected = torch.zeros(max(LENGTHS), emissions.shape[2], dtype=torch.float64)
        for score, path in paths[row]:
            for t, tag in enumerate(path):
                expected[t, tag] += torch.exp(score - log_z)
        assert torch.allclose(marginals[row], expected, atol=1e-9)  # padding rows are 0 in both
    assert torch.allclose(marginals.sum(dim=2), mask.double(), atol=1e-9)
    tag_ids, confidences = head.decode(features, mask)
    assert torch.equal(confidences, marginals.gather(2, tag_ids.unsqueeze(2)).squeeze(2))


def test_marginals_of_confident_fp32_scores_stay_finite_and_exact():
    # Emission gaps of hundreds make most exponentials underflow in fp32; marginals must still
    # sum to one per token and agree with the float64 computation (log-scores in the thousands
    # carry ~1e-4 of fp32 rounding, with logsumexp steps as with matrix products).
    head = make_head("BIOES")
    features, mask = make_batch()
    with torch.no_grad():
        head.transitions.mul_(20.0)
        emissions = 300.0 * head(features)  # (batch, time, num_tags), float64
        exact = head.marginals(emissions, mask)
        fast = head.float().marginals(emissions.float(), mask)
    assert torch.isfinite(fast).all()
    assert torch.allclose(fast.sum(dim=2), mask.float(), atol=5e-4)
    assert torch.allclose(fast.double(), exact, atol=5e-4)


def test_shared_viterbi_with_constraint_scores_decodes_log_softmax():
    """The softmax head's use: log-softmax emissions and 0 / DISALLOWED move scores."""
    allowed = allowed_transitions("IOB2", ["O", "B-A", "I-A"])
    constraints = [mask_scores(torch.zeros(mask.shape), mask) for mask in allowed]  # 0 or DISALLOWED
    free = [torch.zeros(mask.shape) for mask in allowed]
    emissions = torch.tensor([[[0.1, 0.2, 5.0], [0.1, 0.2, 5.0]]]).log_softmax(dim=2)  # (1, 2, 3): wants I-A I-A
    mask = torch.ones(1, 2, dtype=torch.bool)
    assert viterbi(emissions, mask, *free)[0].tolist() == [[2, 2]]  # plain argmax
    assert viterbi(emissions, mask, *constraints)[0].tolist() == [[1, 2]]  # B-A I-A: cannot start with I-A
    assert constraints[0][0, 2] == DISALLOWED  # O → I-A


def test_allowed_transitions_iob2():
    transitions, start, end = allowed_transitions("IOB2", ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])
    assert transitions.tolist() == [  # to: O B-PER I-PER B-LOC I-LOC
        [1, 1, 0, 1, 0],  # from O
        [1, 1, 1, 1, 0],  # from B-PER
        [1, 1, 1, 1, 0],  # from I-PER
        [1, 1, 0, 1, 1],  # from B-LOC
        [1, 1, 0, 1, 1],  # from I-LOC
    ]
    assert start.tolist() == [1, 1, 0, 1, 0]
    assert end.tolist() == [1, 1, 1, 1, 1]
    assert transitions.dtype == start.dtype == end.dtype == torch.bool


def test_allowed_transitions_bioes():
    transitions, start, end = allowed_transitions("BIOES", ["O", "B-A", "I-A", "E-A", "S-A", "B-B", "E-B"])
    assert transitions.tolist() == [  # to: O B-A I-A E-A S-A B-B E-B
        [1, 1, 0, 0, 1, 1, 0],  # from O
        [0, 0, 1, 1, 0, 0, 0],  # from B-A
        [0, 0, 1, 1, 0, 0, 0],  # from I-A
        [1, 1, 0, 0, 1, 1, 0],  # from E-A
        [1, 1, 0, 0, 1, 1, 0],  # from S-A
        [0, 0, 0, 0, 0, 0, 1],  # from B-B
        [1, 1, 0, 0, 1, 1, 0],  # from E-B
    ]
    assert start.tolist() == [1, 1, 0, 0, 1, 1, 0]
    assert end.tolist() == [1, 0, 0, 1, 1, 0, 1]


def test_allowed_transitions_rejects_unknown_scheme_and_foreign_prefix():
    with pytest.raises(ValueError, match="unknown tag scheme 'BIOX'; expected one of IOB2, BIOES"):
        allowed_transitions("BIOX", ["O"])
    with pytest.raises(ValueError, match="'E-A' for scheme IOB2"):
        allowed_transitions("IOB2", ["O", "B-A", "E-A"])


def test_padding_never_changes_a_sentence():
    head = make_head("BIOES", seed=3)
    features, mask = make_batch([2, 4, 3], seed=4)
    alone_features, alone_mask = features[:1, :2], mask[:1, :2]  # the 2-token sentence, unpadded
    features[0, 2:] = 100.0  # padding content must not matter either
    tag_ids = torch.tensor([[0, 4, 3, 1], [4, 0, 1, 3], [1, 3, 0, 4]])  # ids past each length are junk
    with torch.no_grad():
        losses = [head.loss(features[row : row + 1], tag_ids[row : row + 1], mask[row : row + 1]) for row in range(3)]
        assert head.loss(features, tag_ids, mask).item() == pytest.approx(sum(losses).item() / 3, abs=1e-9)
        assert head.loss(alone_features, tag_ids[:1, :2], alone_mask).item() == pytest.approx(losses[0].item())
        for batched, alone in zip(head.decode(features, mask), head.decode(alone_features, alone_mask)):
            assert torch.allclose(batched[:1, :2].double(), alone.double(), atol=1e-12)
        batched_paths, batched_scores = head.k_best(features, mask, 3)
        alone_paths, alone_scores = head.k_best(alone_features, alone_mask, 3)
        assert torch.equal(batched_paths[:1, :, :2], alone_paths)
        assert torch.allclose(batched_scores[:1], alone_scores, atol=1e-12)


def test_loss_is_finite_and_trains_only_allowed_scores():
    head = make_head("IOB2")
    features, mask = make_batch()
    tag_ids = torch.tensor([[1, 2, 0, 3], [0, 0, 0, 0], [3, 4, 4, 0], [0, 1, 0, 0]])
    loss = head.loss(features, tag_ids, mask)
    loss.backward()
    assert torch.isfinite(loss) and loss.item() > 0
    assert head.projection.weight.grad.abs().sum() > 0 and torch.isfinite(head.projection.weight.grad).all()
    assert torch.all(head.transitions.grad[~head.allowed_transitions] == 0)  # forbidden moves stay forbidden
    assert torch.all(head.start_transitions.grad[~head.allowed_start] == 0)
    assert torch.all(head.scores()[0][~head.allowed_transitions] == DISALLOWED)


def test_training_learns_a_fixed_sequence():
    torch.manual_seed(0)
    head = CRFHead(INPUT_DIM, num_tags=5)
    features = torch.randn(1, 6, INPUT_DIM)
    mask = torch.ones(1, 6, dtype=torch.bool)
    target = torch.tensor([[3, 0, 4, 4, 1, 2]])
    optimizer = torch.optim.Adam(head.parameters(), lr=0.1)
    for _ in range(100):
        optimizer.zero_grad()
        head.loss(features, target, mask).backward()
        optimizer.step()
    with torch.no_grad():
        tag_ids, confidences = head.decode(features, mask)
    assert torch.equal(tag_ids, target)
    assert torch.all(confidences > 0.9)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    head = make_head("BIOES").float()
    features, mask = make_batch()
    tag_ids = torch.tensor([[1, 2, 3, 0], [4, 0, 0, 0], [0, 1, 3, 0], [4, 4, 0, 0]])

    def run(device: str) -> list[torch.Tensor]:
        head.to(device)
        inputs = features.float().to(device), tag_ids.to(device), mask.to(device)
        with torch.no_grad():
            return [head.loss(*inputs), *head.decode(inputs[0], inputs[2]), *head.k_best(inputs[0], inputs[2], 4)]

    for expected, got in zip(run("cpu"), run("cuda")):
        assert got.device.type == "cuda" and got.dtype == expected.dtype
        if got.is_floating_point():
            assert torch.allclose(got.cpu(), expected, atol=1e-4)  # -inf k-best padding compares equal
        else:
            assert torch.equal(got.cpu(), expected)


def reference_marginals(emissions, transitions, start, end):
    """One sentence's marginals (time, num_tags) by a plain float64 forward-backward."""
    emissions, transitions, start, end = (x.double() for x in (emissions, transitions, start, end))
    alphas, betas = [start + emissions[0]], [end]
    for t in range(1, len(emissions)):
        alphas.append(torch.logsumexp(alphas[-1][:, None] + transitions, dim=0) + emissions[t])
        betas.append(torch.logsumexp(transitions + (emissions[len(emissions) - t] + betas[-1])[None, :], dim=1))
    scores = torch.stack(alphas) + torch.stack(betas[::-1])
    return (scores - torch.logsumexp(alphas[-1] + end, dim=0)).exp()


def long_sentence(length, num_tags=9, seed=0):
    generator = torch.Generator().manual_seed(seed)
    scale = lambda *shape: 4 * torch.randn(*shape, generator=generator)  # noqa: E731 - scores as sharp as a trained head's
    return scale(length, num_tags), scale(num_tags, num_tags), scale(num_tags), scale(num_tags)


def test_marginals_of_a_1000_token_sentence_equal_float64_and_sum_to_1():
    emissions, transitions, start, end = long_sentence(1000)
    mask = torch.ones(1, 1000, dtype=torch.bool)
    got = marginals(emissions[None], mask, transitions, start, end)[0]
    assert got.dtype == torch.float32
    assert (got.double() - reference_marginals(emissions, transitions, start, end)).abs().max() < 1e-5
    assert (got.sum(dim=1) - 1).abs().max() < 1e-5


def test_a_sentences_marginals_do_not_depend_on_its_batch(monkeypatch):
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        emissions, transitions, start, end = long_sentence(250)
        alone = marginals(emissions[None], torch.ones(1, 250, dtype=torch.bool), transitions, start, end)[0]
        for others in ([40, 600], [250] * 30, [7]):
            batch = torch.zeros(len(others) + 1, max(others + [250]), emissions.shape[1])
            mask = torch.zeros(batch.shape[:2], dtype=torch.bool)
            for row, length in enumerate(others):
                batch[row, :length], mask[row, :length] = long_sentence(length, seed=row + 1)[0], True
            batch[-1, :250], mask[-1, :250] = emissions, True
            assert torch.equal(marginals(batch, mask, transitions, start, end)[-1, :250], alone)
    finally:
        torch.set_num_threads(threads)


def test_the_exported_marginals_equal_float64_at_1000_tokens(tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")

    class Marginals(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.forward_backward = torch.jit.script(marginals)

        def forward(self, emissions, mask, transitions, start, end):
            return self.forward_backward(emissions, mask, transitions, start, end)

    emissions, transitions, start, end = long_sentence(1000)
    inputs = (emissions[None, :5], torch.ones(1, 5, dtype=torch.bool), transitions, start, end)
    names = ["emissions", "mask", "transitions", "start", "end"]
    torch.onnx.export(Marginals(), inputs, str(tmp_path / "m.onnx"), dynamo=False, opset_version=17, input_names=names,
                      output_names=["marginals"], dynamic_axes={"emissions": {0: "b", 1: "t"}, "mask": {0: "b", 1: "t"}})
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    feed = {"emissions": emissions[None].numpy(), "mask": torch.ones(1, 1000, dtype=torch.bool).numpy(),
            "transitions": transitions.numpy(), "start": start.numpy(), "end": end.numpy()}
    got = torch.from_numpy(session.run(None, feed)[0])[0]
    assert (got.double() - reference_marginals(emissions, transitions, start, end)).abs().max() < 1e-5


@pytest.mark.parametrize("case", ["free-3", "IOB2"])
def test_missing_tags_marginalise_over_the_allowed_paths_that_agree_with_the_known_ones(case):
    head = make_head(case)
    features, mask = make_batch()
    emissions = head(features).detach()
    torch.manual_seed(3)
    tag_ids = torch.randint(0, emissions.shape[2], mask.shape)
    tag_ids[0, 1] = tag_ids[0, 3] = tag_ids[2, 0] = -1  # missing (data.missing_tag)
    nll = head.sequence_nll(emissions, tag_ids, mask)
    checked = 0
    for row, length in enumerate(LENGTHS):
        paths = enumerate_paths(head, emissions[row], length)
        known = tag_ids[row, :length].tolist()
        agreeing = [score for score, path in paths if all(k < 0 or k == p for k, p in zip(known, path))]
        if agreeing:  # (random known tags may be a path the scheme forbids)
            expected = torch.logsumexp(torch.tensor([s for s, _ in paths]), 0) - torch.logsumexp(torch.tensor(agreeing), 0)
            assert nll[row].item() == pytest.approx(expected.item(), abs=1e-6)
            checked += any(k < 0 for k in known)
    assert checked >= 1


def test_soft_loss_of_one_hot_targets_is_the_gold_loss_and_its_gradient_is_marginals_less_targets(case):
    head, features, mask, emissions, paths = case
    gold = torch.zeros(mask.shape, dtype=torch.long)
    for row, row_paths in enumerate(paths):
        gold[row, : len(row_paths[0][1])] = torch.tensor(row_paths[0][1])
    one_hot = torch.nn.functional.one_hot(gold, emissions.shape[2]).double().masked_fill(~mask[:, :, None], 0.0)
    assert torch.allclose(head.soft_loss(features, one_hot, mask), head.loss(features, gold, mask), atol=1e-9)
    # distillation targets: any distribution per token; the loss pulls the marginals towards them
    targets = torch.softmax(torch.randn(emissions.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64), dim=2)
    emissions = emissions.clone().requires_grad_(True)
    original = head.forward
    head.forward = lambda _: emissions  # the loss of these emissions
    try:
        head.soft_loss(features, targets, mask).backward()
    finally:
        head.forward = original
    expected = (marginals(emissions.detach(), mask, *head.scores()) - targets.masked_fill(~mask[:, :, None], 0.0)) / mask.shape[0]
    assert torch.allclose(emissions.grad, expected, atol=1e-9)


def test_with_gold_tags_the_soft_loss_learns_moves_from_the_gold_path(case):
    """Distillation's targets teach the emissions; where every tag is known, the moves, the start
    and the end get the gold loss's gradient, whatever the targets say."""
    head, features, mask, emissions, paths = case
    gold = torch.zeros(mask.shape, dtype=torch.long)
    for row, row_paths in enumerate(paths):
        gold[row, : len(row_paths[0][1])] = torch.tensor(row_paths[-1][1])  # the worst allowed path
    targets = torch.softmax(torch.randn(emissions.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64), dim=2)
    scores = (head.transitions, head.start_transitions, head.end_transitions)
    soft = torch.autograd.grad(head.soft_loss(features, targets, mask, gold), scores)
    hard = torch.autograd.grad(head.loss(features, gold, mask), scores)
    for ours, theirs in zip(soft, hard):
        assert torch.allclose(ours, theirs, atol=1e-9)
    without = torch.autograd.grad(head.soft_loss(features, targets, mask), scores)  # products of targets instead
    assert not torch.allclose(without[0], hard[0], atol=1e-3)
