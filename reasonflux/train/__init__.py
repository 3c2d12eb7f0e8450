"""SFT training: TRL's SFTTrainer with the ReasonFlux-F1 recipes (``recipes/*.yaml``), DeepSpeed
ZeRO-3 configs (``deepspeed/*.json``), our chat format with assistant-only labels (``data.py``),
memory estimates (``estimate.py``), cluster launch lines (``launch.py``) and a LLaMA-Factory export
(``llamafactory.py``). Importing this package is light; torch/transformers load inside functions.

    reasonflux train --recipe tiny --model MODEL_DIR --data sft.jsonl --output-dir runs/tiny
"""
