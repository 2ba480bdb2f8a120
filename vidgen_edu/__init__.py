"""vidgen-edu: the library of the textbook *AI video generation from first principles*.

The public surface is small on purpose; chapters import from the submodules:
``vidgen_edu.data`` (rule-driven video), ``vidgen_edu.train`` (``fit``),
``vidgen_edu.viz`` (animations, widgets), ``vidgen_edu.models`` (one family per file).
"""

from .runtime import budget, describe, get_device, is_quick, seed_everything

__version__ = "0.1.0"

__all__ = ["__version__", "budget", "describe", "get_device", "is_quick", "seed_everything"]
