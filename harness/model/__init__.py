"""The MLLM: encoder -> connector -> causal LM."""
