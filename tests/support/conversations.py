"""A three-round conversation whose token counts the estimator tests pin (each round re-bills the history)."""

CHAT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Nice to meet you."},
    {"role": "assistant", "content": "Nice to meet you too! How can I help you today?"},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "The capital of France is Paris."},
    {"role": "user", "content": "And of Italy?"},
]
