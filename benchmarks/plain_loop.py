"""The reference loop of the throughput benchmarks: csvae.fit's alternation in nothing but torch."""

import torch


def plain_loop(model, x, y, epochs, batch_size, seed):
    """The reference: the same alternation with nothing but torch."""
    torch.manual_seed(seed)
    opt_model = torch.optim.Adam(model.model_parameters(), lr=1e-3, fused=True)
    opt_adversary = torch.optim.Adam(model.adversary_parameters(), lr=1e-3, fused=True)
    steps = len(x) // batch_size
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        for i in range(steps):
            index = order[i * batch_size:(i + 1) * batch_size]
            terms = model.losses(x[index], y[index])
            opt_model.zero_grad(set_to_none=True)
            terms["model"].backward()
            opt_model.step()
            opt_adversary.zero_grad(set_to_none=True)
            terms["adversary"].backward()
            opt_adversary.step()
    return steps * epochs * batch_size
