"""Input safety: what every message goes through before it is used, stored or shown to a model.

`guard.SafetyGuard.check` runs the checks in order (danger first); `pii.redact` is also used on its own
wherever other text is stored (feedback comments, quiz questions).
"""

from safeguide.safety.guard import CheckedInput, SafetyGuard
from safeguide.safety.patterns import (
    DANGER_NO_GUIDANCE,
    EMERGENCY_NOTICE,
    HARM_REFUSAL,
    PERSONAL_DATA_NOTICE,
    asks_to_harm,
    in_immediate_danger,
    looks_like_injection,
    strip_hidden,
)
from safeguide.safety.pii import Finding, redact
from safeguide.safety.shapes import nhs_number_is_valid

__all__ = [
    "DANGER_NO_GUIDANCE",
    "EMERGENCY_NOTICE",
    "HARM_REFUSAL",
    "PERSONAL_DATA_NOTICE",
    "CheckedInput",
    "Finding",
    "SafetyGuard",
    "asks_to_harm",
    "in_immediate_danger",
    "looks_like_injection",
    "nhs_number_is_valid",
    "redact",
    "strip_hidden",
]
