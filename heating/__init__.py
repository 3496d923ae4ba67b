"""heating — a clean-heating village rollout tracker (清洁取暖改造进度台账与禁煤区管理)."""

__version__ = "0.1.0"
