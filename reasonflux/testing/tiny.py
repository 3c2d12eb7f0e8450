"""A tiny random Qwen2 model and a byte-level BPE tokenizer trained in-process (no hub).

The tokenizer has the R1 special tokens and, by default, a chat template that behaves like the
R1-distill tokenizer's own: it drops everything up to ``</think>`` from assistant turns (the trap our
``deepseek-r1`` format avoids). Generation with it is fast enough for unit tests on one CPU thread.

    python -m reasonflux.testing.tiny /tmp/tiny   # writes config, weights and tokenizer
"""

from __future__ import annotations

import sys
from pathlib import Path

from reasonflux.chat import ASSISTANT, BOS, EOS, IM_END, IM_START, R1_SPECIAL_TOKENS, USER

PAD = "<｜▁pad▁｜>"

# Behaves like the DeepSeek-R1-Distill tokenizer template: reasoning removed from assistant turns,
# generation prompt "<｜Assistant｜><think>\n".
R1_DISTILL_STYLE_TEMPLATE = (
    "{{ '" + BOS + "' }}"
    "{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] }}{% endif %}{% endfor %}"
    "{% for m in messages %}"
    "{% if m['role'] == 'user' %}{{ '" + USER + "' + m['content'] }}"
    "{% elif m['role'] == 'assistant' %}{% set c = m['content'] %}{% if '</think>' in c %}{% set c = c.split('</think>')[-1] %}{% endif %}"
    "{{ '" + ASSISTANT + "' + c + '" + EOS + "' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '" + ASSISTANT + "<think>\\n' }}{% endif %}"
)

CORPUS = [
    "What is 2+3? The answer is 5. Let me think step by step.",
    "Find x if 2x+1=7. Subtract 1, divide by 2, x = 3. Final Answer: \\boxed{3}",
    "Compute the sum of the first ten positive integers: 55.",
    "Wait, let me check that again. So the answer is \\boxed{42}.",
    "Please reason step by step, and put your final answer within \\boxed{}.",
    "The probability is \\frac{1}{2}; the area is 12 square units; the angle is 30^\\circ.",
    "Answer: (A) (B) (C) (D) hydrogen oxygen carbon energy force velocity",
    "template: use Vieta's formulas, modular arithmetic, pigeonhole principle, complementary counting.",
]


def build_tokenizer(vocab_size: int = 400, chat_template: str | None = R1_DISTILL_STYLE_TEMPLATE):
    """A PreTrainedTokenizerFast trained on a few sentences; byte-level, so any text encodes."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = [BOS, EOS, PAD, *[t for t in R1_SPECIAL_TOKENS if t not in (BOS, EOS)], IM_START, IM_END]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD,
                                   additional_special_tokens=[t for t in specials if t not in (BOS, EOS, PAD)])
    if chat_template is not None:
        fast.chat_template = chat_template
    return fast


def build_model(tokenizer, hidden: int = 64, layers: int = 2, heads: int = 4, kv_heads: int = 2, seed: int = 0):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    cfg = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True, torch_dtype="float32",
    )
    return Qwen2ForCausalLM(cfg)


def save_tiny(out_dir: str | Path, *, chat_template: str | None = R1_DISTILL_STYLE_TEMPLATE, seed: int = 0) -> Path:
    """Write a tiny model directory loadable by ``AutoModelForCausalLM.from_pretrained``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer(chat_template=chat_template)
    model = build_model(tok, seed=seed)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


if __name__ == "__main__":
    print(save_tiny(sys.argv[1] if len(sys.argv) > 1 else "tiny-model"))
