"""A refactor of the models must leave their arithmetic alone: this script records, for every model
and its objective's options, on vector data and a small conv net, with and without unknown labels
and with and without balance weights, every loss term, every gradient of both objectives, the
adversary loss of the extra steps, the batch-norm statistics and the ELBO, and compares them bit
for bit with a record made before the change (same machine, one thread):

    .venv/bin/python scripts/loss_fingerprint.py save /tmp/before.pt    # on the old code
    .venv/bin/python scripts/loss_fingerprint.py check /tmp/before.pt   # on the new code
"""

import itertools
import sys

import torch

import csvae
from csvae.data.balance import weight_table

SMALL = {"head_hidden": 8, "adversary_hidden": [8], "z_dim": 2, "w_dim": 2}
BACKBONES = {"vector": {"hidden": [16], **SMALL}, "image": {"backbone": "conv", "conv_channels": [4, 8],
                                                             "conv_dense": 16, **SMALL}}
OPTIONS = {
    "vae": [{}], "condvae": [{}],
    "condvae_info": [{}, {"independence": "hsic"}, {"independence": "club"}, {"independence_input": "mean"}],
    "csvae": [{}, {"independence": "hsic"}, {"independence": "club"}, {"encoder_objective": "cross_entropy"},
              {"independence_input": "mean"}, {"swap_cycle": 2.0}, {"w_independence": 3.0},
              {"swap_cycle": 1.5, "w_independence": 2.0, "independence_input": "mean"}],
    "ccvae": [{}, {"ccvae_unlabelled": "enumerate"}, {"ccvae_unlabelled": "score"}, {"ccvae_kl": "analytic"},
              {"ccvae_detach": "classifier"}],
}


def batch(kind: str, unknown: bool, n: int = 12, k: int = 2):
    """A fixed batch (x, y): 3-D vectors or 32 px uint8 images; rows 3..6 unlabelled when ``unknown``."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, 3, generator=g) if kind == "vector" else torch.randint(0, 256, (n, 3, 32, 32), generator=g)
    y = torch.randint(0, 2, (n, k), generator=g).float()
    y[0] = 1.0  # a rare combination
    if unknown:
        y[3:7] = float("nan")
    return (x if kind == "vector" else x.to(torch.uint8)), y


def gradients(model, loss, tag: str, retain: bool = False) -> dict:
    """The gradient of every parameter (None where it gets none) of ``loss``."""
    model.zero_grad(set_to_none=True)
    loss.backward(retain_graph=retain)
    return {f"{tag}:{name}": None if p.grad is None else p.grad.clone() for name, p in model.named_parameters()}


def record(name: str, options: dict, kind: str, unknown: bool, balance: bool) -> dict:
    """Everything the case computes, by name."""
    shape = {"x_dim": 3} if kind == "vector" else {"x_shape": (3, 32, 32)}
    model = csvae.build_model(name, y_dim=2, seed=0, **shape, **BACKBONES[kind], **options)
    x, y = batch(kind, unknown)
    if balance:
        model.set_label_balance(weight_table(y, "binary"))
    model.observe_labels(y)
    torch.manual_seed(5)
    terms = model.losses(x, y)
    out = {f"term:{t}": v.detach().clone() for t, v in terms.items()}
    out.update(gradients(model, terms["model"], "grad_model", retain="adversary" in terms))
    if "adversary" in terms:
        out.update(gradients(model, terms["adversary"], "grad_adv"))
        torch.manual_seed(6)
        extra = model.adversary_loss(x, y)
        out["adversary_loss"] = extra.detach().clone()
        out.update(gradients(model, extra, "grad_adv2"))
    out.update({f"buffer:{b}": v.clone() for b, v in model.named_buffers()})
    if not unknown:
        torch.manual_seed(7)
        out["elbo"] = model.elbo(x, y)
        if kind == "image":
            torch.manual_seed(8)
            out["bits_per_dim"] = model.bits_per_dim(x, y)
    return out


def run() -> dict:
    """Every case's record, by a key naming the case."""
    records = {}
    for name, choices in OPTIONS.items():
        for options, kind, unknown, balance in itertools.product(choices, BACKBONES, (False, True), (False, True)):
            key = f"{name}|{sorted(options.items())}|{kind}|unknown={unknown}|balance={balance}"
            records[key] = record(name, options, kind, unknown, balance)
    return records


def compare(reference: dict, records: dict) -> int:
    """Print each value that differs (and each name added or gone) and return how many differ."""
    assert reference.keys() == records.keys(), "the cases differ"
    differences = 0
    for key, old in reference.items():
        new = records[key]
        if old.keys() != new.keys():
            print("NAMES", key, "added", sorted(set(new) - set(old)), "gone", sorted(set(old) - set(new)))
        for name in old.keys() & new.keys():
            try:
                torch.testing.assert_close(new[name], old[name], rtol=0, atol=0, equal_nan=True)
            except AssertionError as err:
                differences += 1
                print("DIFF", key, name, str(err).splitlines()[0])
    print(f"cases {len(reference)}, values that differ {differences}")
    return differences


def main(argv: list[str]) -> int:
    torch.set_num_threads(1)
    command, path = argv
    if command == "save":
        torch.save(run(), path)
        return 0
    return 1 if compare(torch.load(path), run()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
