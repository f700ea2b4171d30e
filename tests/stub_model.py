"""What evaluation asks of a stub model beyond its own methods (manipulate, transfer, ...): a
device and ``map_batches``, as ``csvae.models.LatentModel`` gives them."""

import numpy as np
import torch


class StubModel:
    """A model on the CPU that maps its methods over batches as ``LatentModel.map_batches`` does."""

    device = torch.device("cpu")

    def map_batches(self, fn, *arrays, batch_size=1024):
        tensors = [torch.as_tensor(np.asarray(a)) for a in arrays]
        return torch.cat([fn(*[t[s:s + batch_size] for t in tensors]).cpu()
                          for s in range(0, len(tensors[0]), batch_size)])
