"""Run LLaMA-Factory's OWN dataset pipeline (sharegpt converter + template + SFT processor) on a
train.yaml written by ``reasonflux train --engine llamafactory`` and print what it produced as JSON.

Runs inside the LLaMA-Factory environment (``make lf-env`` → .venv-lf), never in ours:

    .venv-lf/bin/python tools/llamafactory/dataset_probe.py RUN/llamafactory/train.yaml probe.json

Output: {"rows": N, "examples": [{"input_ids": [...], "labels": [...], "trained_text": "..."}],
"template": "..."}: ``trained_text`` is the decoded text of the label tokens (what the loss sees).

With a third argument, a JSON list (one per conversation) of ``[text, is_assistant]`` segments as
our ``deepseek-r1`` format cuts them (``reasonflux.train.data.segments``), the output also holds
``"reference"``: those segments tokenized by the SAME tokenizer object LLaMA-Factory used, so the two
templates are compared token for token without differences between transformers versions.
"""

from __future__ import annotations

import json
import sys
import tempfile


def main(yaml_path: str, out_path: str, segments_path: str | None = None) -> None:
    import yaml
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.extras.constants import IGNORE_INDEX
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    args = yaml.safe_load(open(yaml_path, encoding="utf-8"))
    args.pop("deepspeed", None)
    args.update(output_dir=tempfile.mkdtemp(prefix="lf-probe-"), report_to="none", preprocessing_num_workers=None,
                overwrite_output_dir=True, plot_loss=False, bf16=False)
    model_args, data_args, training_args, _, _ = get_train_args(args)
    tokenizer_module = load_tokenizer(model_args)
    tok = tokenizer_module["tokenizer"]
    template = get_template_and_fix_tokenizer(tok, data_args)
    module = get_dataset(template, model_args, data_args, training_args, stage="sft", **tokenizer_module)
    ds = module["train_dataset"]
    examples = []
    for row in ds:
        ids, labels = list(row["input_ids"]), list(row["labels"])
        trained = tok.decode([t for t, lab in zip(ids, labels) if lab != IGNORE_INDEX], skip_special_tokens=False)
        examples.append({"input_ids": ids, "labels": labels, "trained_text": trained})
    result = {"rows": len(examples), "examples": examples, "template": data_args.template}
    if segments_path:
        result["reference"] = []
        for conv in json.load(open(segments_path, encoding="utf-8")):
            ids: list[int] = []
            labels: list[int] = []
            for text, is_assistant in conv:
                piece = tok(text, add_special_tokens=False)["input_ids"]
                ids += piece
                labels += piece if is_assistant else [IGNORE_INDEX] * len(piece)
            result["reference"].append({"input_ids": ids, "labels": labels})
    with open(out_path, "w", encoding="utf-8") as f:  # not stdout: LLaMA-Factory logs there
        json.dump(result, f)


if __name__ == "__main__":
    main(*sys.argv[1:4])
