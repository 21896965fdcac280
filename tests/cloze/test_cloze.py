"""Cloze: no leakage from x_t into its own prediction, padding invariance, memorisation, CLI."""

import json

import pytest
import torch
from typer.testing import CliRunner

from birnn_tag.cli.app import app
from birnn_tag.cloze.network import build_cloze_model
from birnn_tag.config import ClozeModelConfig
from birnn_tag.nn.recurrent import gather_steps, reversal_index

from conftest import SENTENCES

runner = CliRunner()


def model(direction="both", num_layers=2, output_layer="softmax", vocab=40, cell="lstm"):
    torch.manual_seed(0)
    config = ClozeModelConfig(word_dim=8, hidden_size=6, num_layers=num_layers, dropout=0.0, direction=direction,
                         output_layer=output_layer, adaptive_cutoffs=[10] if output_layer == "adaptive" else None,
                         cell=cell)
    return build_cloze_model(config, vocab).eval()


def distributions(net, word_ids, lengths):
    mask = torch.arange(word_ids.shape[1])[None, :] < lengths[:, None]
    with torch.no_grad():
        return net.log_probs(word_ids, lengths, mask)


def test_reversal_keeps_padding_in_place():
    x = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]])[:, :, None].float()
    index = reversal_index(torch.tensor([3, 2]), x.shape[1], x.device)
    assert gather_steps(x, index)[:, :, 0].tolist() == [[3, 2, 1, 0], [5, 4, 0, 0]]


@pytest.mark.parametrize("num_layers,cell", [(1, "lstm"), (3, "lstm"), (2, "gru"), (2, "rnn")])
def test_no_leakage_from_the_target_word(num_layers, cell):
    net = model(num_layers=num_layers, cell=cell)
    ids = torch.randint(2, 40, (1, 9))
    lengths = torch.tensor([9])
    before = distributions(net, ids, lengths)
    for t in range(9):
        changed = ids.clone()
        changed[0, t] = (ids[0, t] + 7) % 38 + 2
        after = distributions(net, changed, lengths)
        assert torch.allclose(before[t], after[t], atol=1e-6), t  # x_t never informs position t
        others = [p for p in range(9) if p != t]
        assert not torch.allclose(before[others], after[others])  # ...but it informs its neighbours


def test_forward_half_sees_only_the_left_context():
    net = model(direction="forward")
    ids = torch.randint(2, 40, (1, 9))
    before = distributions(net, ids, torch.tensor([9]))
    changed = ids.clone()
    changed[0, 4:] = 3  # rewrite x_>=4
    after = distributions(net, changed, torch.tensor([9]))
    assert torch.allclose(before[:5], after[:5], atol=1e-6)
    net = model(direction="backward")
    before = distributions(net, ids, torch.tensor([9]))
    changed = ids.clone()
    changed[0, :5] = 3  # rewrite x_<=4
    after = distributions(net, changed, torch.tensor([9]))
    assert torch.allclose(before[4:], after[4:], atol=1e-6)


@pytest.mark.parametrize("output_layer,cell", [("softmax", "lstm"), ("adaptive", "lstm"), ("softmax", "gru"), ("softmax", "rnn")])
def test_padding_invariance_and_probabilities(output_layer, cell):
    net = model(output_layer=output_layer, cell=cell)
    short = torch.randint(2, 40, (4,))
    alone = distributions(net, short[None], torch.tensor([4]))
    batch = torch.zeros(3, 13, dtype=torch.long)
    batch[0] = torch.randint(2, 40, (13,))
    batch[1, :4] = short
    batch[2, :7] = torch.randint(2, 40, (7,))
    together = distributions(net, batch, torch.tensor([13, 4, 7]))
    assert torch.allclose(alone, together[13:17], atol=1e-5)
    probs = alone.exp()
    assert torch.allclose(probs.sum(dim=1), torch.ones(4), atol=1e-4)


def test_memorised_blank_is_recovered_and_choices_ranked(cloze_run):
    run = str(cloze_run / "run")
    result = runner.invoke(app, ["predict", run, "-", "--top-k", "5"],
                           input="joe likes ___ , especially fried , scrambled or poached .\n")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    candidates = record["blanks"][0]["candidates"]
    assert candidates[0]["word"] == "eggs"
    assert record["filled"] == SENTENCES[0]
    probs = [c["prob"] for c in candidates]
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-6
    result = runner.invoke(app, ["predict", run, "-", "--choices", "ideas,cars,eggs,zebra"],
                           input="joe likes [MASK] , especially fried , scrambled or poached .\n")
    ranked = json.loads(result.stdout)["blanks"][0]["candidates"]
    assert ranked[0]["word"] == "eggs"
    known = [c["prob"] for c in ranked[:3]]
    assert known == sorted(known, reverse=True) and all(p > 0 for p in known)
    assert ranked[-1] == {"word": "zebra", "prob": None, "in_vocabulary": False}


def test_unusable_lines_get_clear_messages(cloze_run):
    result = runner.invoke(app, ["predict", str(cloze_run / "run"), "-", "--format", "text"],
                           input="no blank here\n___ ___\ntom writes down ___ about music in a notebook .\n")
    assert result.exit_code == 0, result.output
    assert "<stdin>:1: no blank" in result.stderr and "<stdin>:2: every token is a blank" in result.stderr
    assert result.stdout.splitlines()[2] == SENTENCES[2]


def test_precision_option_is_refused_for_cloze(cloze_run):
    result = runner.invoke(app, ["predict", str(cloze_run / "run"), "-", "--precision", "bf16"], input="a ___ b\n")
    assert result.exit_code == 1 and "--precision: applies to tagging models; this is a cloze model" in result.output


def test_evaluate_reports_topk_and_perplexity(cloze_run):
    result = runner.invoke(app, ["evaluate", str(cloze_run / "run"), "--fraction", "0.5"])
    assert result.exit_code == 0, result.output
    report = json.loads((cloze_run / "run" / "report-test.json").read_text())
    assert report["unk_targets"] == "excluded" and report["fraction"] == 0.5
    assert 0.9 <= report["top1"] <= report["top5"] <= report["top10"] <= 1.0
    assert 1.0 <= report["perplexity"] < 2.0


def test_custom_blank_survives_the_ptb_tokenizer_and_bad_jsonl_is_reported(cloze_run):
    from birnn_tag.cloze.prediction import make_query
    from birnn_tag.data.reading.tokenize import tokenize

    query = make_query(1, "Joe likes [BLANK], especially <b>.", "[BLANK]", lambda t: tokenize(t)[0], None)
    assert query.tokens == ["Joe", "likes", "[BLANK]", ",", "especially", "<", "b", ">", "."]
    assert query.blanks == [2] and query.error is None
    result = runner.invoke(app, ["predict", str(cloze_run / "run"), "-", "--input-format", "jsonl"],
                           input='{"text": 5}\n')
    assert result.exit_code == 1 and "<stdin>:1: 'text' must be a string" in result.output


def test_adaptive_cutoffs_beyond_the_vocabulary_are_a_config_error():
    from birnn_tag.errors import ConfigError

    with pytest.raises(ConfigError, match=r"model.adaptive_cutoffs: \[10, 50\] must increase strictly within 1..38"):
        build_cloze_model(ClozeModelConfig(output_layer="adaptive", adaptive_cutoffs=[10, 50]), 40)
