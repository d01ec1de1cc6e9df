"""Cost allocation and chargeback for Alibaba Cloud Model Studio (Qwen) bills."""

__version__ = "0.1.0"
