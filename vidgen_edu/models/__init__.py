"""Model families, one per file (``vae``, ``recurrent``, ``attention``, ``transformer``, ...).

:mod:`.api` states the contracts (:class:`FramePredictor`, :class:`VideoGenerator`),
:mod:`.blocks` holds the pieces the families share.
"""

from .api import FramePredictor, VideoGenerator, check_samples

__all__ = ["FramePredictor", "VideoGenerator", "check_samples"]
