"""The vllm backend's OWN mapping: Request → ``vllm.SamplingParams``, prompts → token prompts, engine
options → ``vllm.LLM``, and ``RequestOutput`` → Completion.

vLLM cannot be installed here (no CUDA), so this is a test of our mapping only, not of vLLM: a tiny
stand-in module is injected as ``sys.modules['vllm']``; its ``LLM`` and ``SamplingParams`` record the
arguments they get, and ``LLM.generate`` answers with objects shaped like vLLM's documented
``RequestOutput``/``CompletionOutput`` (request_id, prompt_token_ids, outputs[i].text / token_ids /
finish_reason). The engine itself is exercised only on a GPU machine with vllm installed.
"""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace

import pytest

from reasonflux.errors import UserError
from reasonflux.testing.tiny import build_tokenizer
from reasonflux.types import Request

QUESTION = [{"role": "user", "content": "What is 2+3?"}]
TOKENIZER = build_tokenizer()


class StandInSamplingParams:
    def __init__(self, **kwargs):
        self.kwargs = kwargs
        for k, v in kwargs.items():
            setattr(self, k, v)


class StandInLLM:
    """Records its constructor and generate() arguments; answers with a scripted output per sample."""

    instances: list[StandInLLM] = []
    script: list[tuple[str, int, str]] = []  # (text, n_tokens, finish_reason), cycled over samples

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.calls: list[tuple[list, list]] = []
        StandInLLM.instances.append(self)

    def get_tokenizer(self):
        return TOKENIZER

    def generate(self, prompts, sampling_params):
        self.calls.append((prompts, sampling_params))
        outs, k = [], 0
        for i, (p, sp) in enumerate(zip(prompts, sampling_params)):
            comps = []
            for j in range(sp.n):
                text, ntok, finish = self.script[k % len(self.script)]
                k += 1
                comps.append(SimpleNamespace(index=j, text=text, token_ids=list(range(ntok)), finish_reason=finish,
                                             stop_reason=None))
            outs.append(SimpleNamespace(request_id=str(i), prompt=None, prompt_token_ids=p["prompt_token_ids"],
                                        outputs=comps, finished=True, metrics=None))
        return outs


@pytest.fixture
def standin_vllm(monkeypatch):
    mod = types.ModuleType("vllm")
    mod.LLM = StandInLLM
    mod.SamplingParams = StandInSamplingParams
    StandInLLM.instances = []
    StandInLLM.script = [("<think>\nadd\n</think>\n5", 7, "stop")]
    monkeypatch.setitem(sys.modules, "vllm", mod)
    return mod


@pytest.fixture
def model_dir(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    (d / "config.json").write_text("{}")
    return d


def test_engine_options_reach_llm(standin_vllm, model_dir, tmp_path):
    from reasonflux.backends.vllm import VLLMBackend

    VLLMBackend(str(model_dir), dtype="bf16", tensor_parallel_size=4, gpu_memory_utilization=0.8, max_model_len=32768,
                seed=3, batch_size=99, base_url="ignored")
    assert StandInLLM.instances[-1].kwargs == dict(model=str(model_dir), dtype="bfloat16", tensor_parallel_size=4,
                                                    gpu_memory_utilization=0.8, max_model_len=32768, seed=3)
    gguf = tmp_path / "q.gguf"
    gguf.write_bytes(b"GGUF")
    VLLMBackend(str(gguf))
    kw = StandInLLM.instances[-1].kwargs
    assert kw["model"] == str(gguf) and "max_model_len" not in kw and kw["dtype"] == "auto"


def test_all_requests_in_one_generate_call_with_n(standin_vllm, model_dir):
    from reasonflux.backends.vllm import VLLMBackend

    b = VLLMBackend(str(model_dir), format="deepseek-r1")
    reqs = [
        Request(QUESTION, n=4, temperature=0.6, top_p=0.95, max_tokens=32768, seed=11),
        Request(QUESTION, n=3, max_tokens=100, stop=["\n\nQ:"], prefill="<think>\n"),
    ]
    seen = []
    out = b.generate(reqs, progress=lambda i, c: seen.append(i))
    (llm,) = StandInLLM.instances
    assert len(llm.calls) == 1  # one engine call for everything: vLLM schedules and shares prefixes
    prompts, params = llm.calls[0]
    assert prompts[0] == {"prompt_token_ids": TOKENIZER("<｜begin▁of▁sentence｜><｜User｜>What is 2+3?<｜Assistant｜>",
                                                        add_special_tokens=False)["input_ids"]}
    assert prompts[0]["prompt_token_ids"].count(TOKENIZER.bos_token_id) == 1  # BOS not doubled
    assert TOKENIZER.decode(prompts[1]["prompt_token_ids"]).endswith("<｜Assistant｜><think>\n")  # prefill
    assert params[0].kwargs == dict(n=4, temperature=0.6, top_p=0.95, max_tokens=32768,
                                    stop=["<｜end▁of▁sentence｜>"], seed=11, skip_special_tokens=False)
    # greedy: one sample generated, copied n times; the user's stop plus the format's
    assert params[1].kwargs == dict(n=1, temperature=0.0, top_p=1.0, max_tokens=100,
                                    stop=["\n\nQ:", "<｜end▁of▁sentence｜>"], seed=None, skip_special_tokens=False)
    assert [len(cs) for cs in out] == [4, 3]
    assert seen == [0] * 4 + [1] * 3
    c = out[0][0]
    assert (c.text, c.finish_reason, c.completion_tokens, c.prompt_tokens) == (
        "<think>\nadd\n</think>\n5", "stop", 7, len(prompts[0]["prompt_token_ids"]))
    assert len({id(c) for c in out[1]}) == 3 and len({c.text for c in out[1]}) == 1


def test_output_conversion_finish_reasons(standin_vllm, model_dir):
    from reasonflux.backends.vllm import VLLMBackend

    StandInLLM.script = [("cut off", 5, "length"), ("done<｜end▁of▁sentence｜>", 3, "stop"), ("", 0, "abort")]
    b = VLLMBackend(str(model_dir), format="chatml")
    out = b.generate([Request(QUESTION, n=3, temperature=1.0, max_tokens=5)])[0]
    assert [(c.text, c.finish_reason, c.completion_tokens) for c in out] == [
        ("cut off", "length", 5), ("done", "stop", 3), ("", "error", 0)]
    assert out[2].error and "abort" in out[2].error
    assert StandInLLM.instances[0].calls[0][1][0].stop == ["<|im_end|>", "<|endoftext|>"]


def test_model_format_uses_the_engine_tokenizer_template(standin_vllm, model_dir):
    from reasonflux.backends import load_backend

    b = load_backend("vllm", model=str(model_dir), format="model")
    assert b.name == "vllm"
    b.generate([Request(QUESTION, prefill="<think>\n")])
    prompt = StandInLLM.instances[0].calls[0][0][0]["prompt_token_ids"]
    assert TOKENIZER.decode(prompt) == TOKENIZER.apply_chat_template(QUESTION, tokenize=False, add_generation_prompt=True)
    assert StandInLLM.instances[0].calls[0][1][0].stop is None  # model format: the engine's own EOS ends a turn
    b.close()
    assert b.llm is None


def test_missing_vllm_is_a_clear_user_error(monkeypatch, model_dir):
    from reasonflux.backends.vllm import VLLMBackend

    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    with pytest.raises(UserError, match=r"pip install 'reasonflux\[vllm\]'"):
        VLLMBackend(str(model_dir))


def test_missing_model_path_is_a_user_error(standin_vllm, tmp_path):
    from reasonflux.backends.vllm import VLLMBackend

    with pytest.raises(UserError, match="does not exist"):
        VLLMBackend(str(tmp_path / "nope"))
    assert StandInLLM.instances == []
