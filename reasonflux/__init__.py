"""reasonflux: solve, evaluate, reason with thought templates, synthesize trajectories, fine-tune.

Importing the package is cheap: no torch, transformers, vllm or ray is imported until a backend or
the trainer is built. Try: ``reasonflux solve "What is 2+3?"``.
"""

__version__ = "0.1.0"
