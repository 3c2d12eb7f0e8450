"""Test and benchmark helpers that ship with the package: a tiny random Qwen2 model with a locally
trained tokenizer (``tiny``), and a scripted OpenAI-compatible HTTP server (``server``)."""
