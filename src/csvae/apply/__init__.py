"""Apply a trained run to image files: attribute manipulation and (CSVAE) style transfer.

The functions behind ``csvae manipulate`` and ``csvae transfer`` (see docs/manipulation.md):

- :func:`manipulate_files` reads images exactly as the run's data were read, infers their current
  labels, changes one attribute (or the class) and writes a PNG grid, one row per input:
  input, reconstruction, then ``samples`` manipulations;
- :func:`transfer_files` (CSVAE only) writes one row: content, style, reconstruction of the
  content, and the content decoded with the style's subspace W_attribute.

Reading (:func:`read_images_like_run`): size and channels come from the model's ``x_shape``, the
crop from the run's data card (``csvae.datacard``: ``data.crop`` when set, else 148 for the
CelebA readers, else the largest centred square); then the Lanczos resize of
``csvae.data.imageio``. Synthetic faces are rendered at their size without any crop, so their runs
read user images with the largest centred square. Attribute names come from the card too.

Labels of user images are unknown; :func:`infer_labels` picks them (rule: module
``LABEL_RULE`` and docs/manipulation.md). ``current`` fixes the changed attribute (or class) and a
judge file, when given, classifies the images instead of the model.

Modules: ``run`` (the card: names, kind, reading images like the run), ``labels`` (label
inference), ``output`` (grids written only where allowed), ``commands`` (the two commands).

Notes for the user (inferred labels, a target equal to the current label, identical samples of a
deterministic model) go to the ``csvae.apply`` logger; the ones that need attention are warnings,
which Python prints on stderr even when logging is not configured.
"""

from csvae.apply.commands import manipulate_files, transfer_files
from csvae.apply.labels import LABEL_RULE, fit_scores, infer_labels
from csvae.apply.run import attribute_index, attribute_names, parse_label, read_images_like_run

__all__ = ["manipulate_files", "transfer_files", "read_images_like_run", "attribute_index", "attribute_names",
           "infer_labels", "parse_label", "fit_scores", "LABEL_RULE"]
