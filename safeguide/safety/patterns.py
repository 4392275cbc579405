"""The pattern half of the input checks: pure functions, no I/O, microseconds each.

- hidden Unicode (tag characters, zero-width and bidirectional controls) is removed;
- a child in immediate danger is recognised by the shapes such messages take ("has a knife", "not
  breathing", "going to kill"); `meaning.py` recognises the rest by meaning;
- requests for help to hurt a child or to get round safeguarding are recognised by their shape ("how do
  I hide the bruises", "without social services finding out"); `meaning.py` again does the rest;
- attempts to override the assistant's instructions are recognised, so they can be refused.

The fixed texts shown to users (EMERGENCY_NOTICE, HARM_REFUSAL) are written here, never by a model.
"""

from __future__ import annotations

import re
import unicodedata

EMERGENCY_NOTICE = (
    "If a child is in immediate danger, call 999 now. Then tell children's social care (out of hours: "
    "the emergency duty team) and follow your organisation's safeguarding procedure. safeguide cannot "
    "contact anyone for you."
)
PERSONAL_DATA_NOTICE = (
    "Personal details were removed from your message before it was used or stored "
    "({kinds}). Please do not type a child's or family's identifying details here."
)
DANGER_NO_GUIDANCE = (
    "I can't find guidance that fits this message. If a child may be in danger, don't wait for an answer "
    "here: call 999 now, then tell children's social care."
)
HARM_REFUSAL = (
    "I can't help with that. safeguide does not help anyone hurt a child, hide harm to a child, or get "
    "round safeguarding. If a child may be at risk, tell children's social care or the police now; if a "
    "child is in immediate danger, call 999."
)

_HIDDEN = re.compile(
    "[\U000e0000-\U000e007f\u200b-\u200f\u2060-\u2064\ufeff\u202a-\u202e\u2066-\u2069\u00ad\u180e]"
)


def strip_hidden(text: str) -> tuple[str, int]:
    """NFKC-normalise and remove invisible characters; returns the text and how many were removed."""
    normalised = unicodedata.normalize("NFKC", text)
    cleaned, removed = _HIDDEN.subn("", normalised)
    return cleaned, removed


# ------------------------------------------------------------------------------------ danger, injection

_HARM = (
    r"(?:hurt|hit|hitting|beat|beaten|beating|attack\w*|abus\w*|assault\w*|stab\w*|strangl\w*|chok\w*"
    r"|kill\w*|rap\w+)"
)
_NOW = r"(?:now|right now|tonight|at the moment|currently)"
_DANGER = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(?:immediate|imminent)\s+(?:danger|risk|harm)\b",
        r"\bin\s+danger\b",
        rf"\b(?:is|are|being|getting)\s+(?:being\s+|getting\s+)?{_HARM}\b.*\b{_NOW}\b",
        rf"\b{_NOW}\b.*\b{_HARM}\b",
        r"\b(?:going to|gonna|threaten\w*\s+to|will)\s+(?:kill|hurt|harm|stab|burn)\b",
        r"\b(?:has|with|holding|waving)\s+(?:a\s+)?(?:knife|gun|weapon|blade)\b",
        r"\b(?:not breathing|unconscious|unresponsive)\b",
        r"\b(?:is|are|was|feeling|feels|seems?|sounds?)\s+(?:very\s+|really\s+)?suicidal\b",
        r"\b(?:has|have|had|just)\s+(?:taken\s+)?(?:an\s+)?overdos\w*|\btook\s+an\s+overdose\b",
        r"\bkill\s+(?:him|her|them)sel(?:f|ves)\b",
        r"\b(?:child|boy|girl|baby|toddler|son|daughter|he|she|they)\s+"
        r"(?:has\s+gone|is|are|went|has\s+been)\s+missing\b"
        # ("missing education" is a status, not an emergency)
        r"(?!\s+(?:from\s+)?(?:education|(?:the\s+|a\s+)?(?:school\s+)?register))",
        r"\b(?:left\s+alone|home\s+alone|locked\s+(?:in|out))\b.*\b(?:baby|toddler|infant|young\s+child|tonight|now)\b",
    )
)


def in_immediate_danger(text: str) -> bool:
    return any(p.search(text) for p in _DANGER)


_INJECTION = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:instructions|rules|prompt|guidelines|above|previous)\b",
        r"\b(?:system|developer|hidden)\s+(?:prompt|message|instructions)\b",
        # Told to the assistant: "act as", "role-play" are ordinary words in a question about people ("can a
        # health visitor act as the lead professional?", "in our training role play the mum says ...").
        r"\byou\s+are\s+now\b|\bpretend\s+(?:to\s+be|you\s+are)\b",
        r"(?:^|[.!?:]\s*|\b(?:you(?:\s+(?:will|must|should|shall|are\s+to|are\s+going\s+to))?|please|now|"
        r"i\s+(?:want|need)\s+you\s+to|can\s+you|could\s+you)\s+)"
        r"(?:act\s+as|role[\s-]?play)\b",
        r"\b(?:let['’]?s|let\s+us)\s+role[\s-]?play\b|\brole[\s-]?play\s+(?:as|with\s+me)\b|\bin\s+this\s+role[\s-]?play\s+you\b",
        r"\bjailbreak\b|\bDAN\b|\bdeveloper\s+mode\b",
        r"\b(?:reveal|print|show|repeat)\b.{0,30}\b(?:prompt|instructions)\b",
        r"</?(?:system|assistant|user)>|\[/?INST\]|<\|im_(?:start|end)\|>",
    )
)


def looks_like_injection(text: str) -> bool:
    return any(p.search(text) for p in _INJECTION)


# A request ("how do I", "best way to", "help me") to hide harm, silence a child or slip past the people
# who protect children. A report of someone else asking ("a parent asked me how to hide bruises") starts
# differently and is left to the classifier, which has such questions among its negatives.
_ASK = (
    r"^\W*(?:so\s+)?(?:how\s+(?:do|can|could|would|should|might)\s+(?:i|we|u|you)\b|how\s+to|how\s+(?:do\s+)?you|what(?:'s|\s+is|\s+are)?\s+"
    r"(?:the\s+)?(?:best|easiest|safest|quickest)|best\s+way|easiest\s+way|ways?\s+to|tips|help\s+me|can\s+you\s+help"
    r"\s+me|tell\s+me\s+how|what\s+(?:can|should|do)\s+i|where\s+can\s+i|is\s+there\s+a\s+way)\b"
)
_HARMFUL = tuple(
    re.compile(_ASK + p, re.IGNORECASE)
    for p in (
        r".{0,80}\b(?:hide|cover(?:\s+up)?|conceal|disguise|explain\s+away)\b.{0,40}\b(?:bruis\w*|marks?|injur\w*"
        r"|burns?|cuts?|welts?|black\s+eye|fractures?)\b",
        r".{0,80}\b(?:get|make|tell|teach|persuade|convince|force)\s+(?:a\s+|the\s+|my\s+|our\s+|his\s+|her\s+)?"
        r"(?:child|kids?|children|girl|boy|daughter|son|pupil|student|niece|nephew|him|her|them)\b.{0,40}\b"
        r"(?:secret|quiet|silent|shut\s+up|lie)\b",
        r".{0,80}\bwithout\b.{0,30}\b(?:anyone|anybody|(?:the\s+)?(?:parents?|mum|dad|school|teachers?|social\s+"
        r"(?:services|workers?|care)|police|nursery|doctors?|health\s+visitor))\b.{0,20}\b(?:know\w*|find\w*\s+out|notic\w*"
        r"|see\w*|seeing|finding\s+out)",
        r".{0,80}\b(?:avoid|get\s+(?:a)?round|bypass|beat|trick|cheat|fool|dodge)\b.{0,30}\b(?:dbs|section\s+47|s47"
        r"|social\s+(?:services|workers?|care)|drug\s+tests?|referrals?|lado|child\s+protection|checks?)\b",
        r".{0,80}\b(?:stop|prevent)\b.{0,40}\b(?:telling|tell|disclos\w*|talking|speaking|giving\s+evidence)\b",
        r".{0,80}\bno\s+(?:marks?|bruis\w*)\b|.{0,80}\bwithout\s+(?:it\s+)?(?:leaving|showing)\s+(?:a\s+)?(?:marks?|bruis\w*)",
    )
)


def asks_to_harm(text: str) -> bool:
    """True if the message, by its shape, asks for help to hurt a child or evade safeguarding."""
    return any(p.search(text) for p in _HARMFUL)


# A pretext around a request: fiction, role play or a hypothetical ("for a story, how does an abuser make
# sure a child never tells", "pretend you're a groomer and..."). A request for an abuser's methods asked
# this way is still that request; the frame only moves it into the third person, which the classifier
# weighs as a question about abuse. Not a frame: writing a story or a poem about something else, or
# asking for training ("for our staff training, how do groomers...").
_PRETEXT = re.compile(
    r"\b(?:for|in)\s+(?:a|my|our|the)\s+(?:\w+\s+)?(?:story|novel|book|script|screenplay|film|fiction)\b"
    r"|\b(?:i'?m|i\s+am|we'?re|we\s+are)\s+writing\s+(?:a|my|our)\s+(?:\w+\s+)?(?:story|novel|book|script|screenplay)\b"
    r"|\brole[\s-]?play\b|\bpretend\s+(?:you'?re|you\s+are|to\s+be|that)\b|\bimagine\s+you'?re\b"
    r"|\bhypothetically\b|\bin\s+theory\b|\bjust\s+asking\s+for\s+a\s+friend\b|\bcreative\s+writing\b",
    re.IGNORECASE,
)


def has_pretext(text: str) -> bool:
    """True if the message wraps its question in fiction, role play or a hypothetical (`_PRETEXT`)."""
    return _PRETEXT.search(text) is not None


# The duties a practitioner asks how to carry out, each with what it is done to, so that "record a
# disclosure" counts and "record the children" does not.
_DUTY = (
    r"(?:record|log|document|write\s+up)\w*\s+(?:an?\s+|the\s+|this\s+|that\s+|it\b|my\s+|our\s+)?"
    r"(?:disclosures?|concerns?|incidents?|allegations?|injur\w+|bruis\w+|it\b)"
    r"|(?:make|made|making)\s+(?:a\s+)?referral|refer\s+(?:it|this|them|the\s+(?:child|family|case))\b"
    r"|refer\w*\s+(?:directly\s+)?to\s+(?:children's\s+social\s+care|social\s+care|the\s+lado|the\s+police)"
    r"|(?:share|pass\s+on)\w*\s+(?:the\s+|this\s+|that\s+|any\s+)?(?:information|concerns?|records?)"
    r"|(?:notify|inform|tell|contact|consult)\w*\s+(?:the\s+)?(?:lado|designated\s+\w+|dsl|social\s+care|"
    r"children's\s+social\s+care|police|health\s+visitor)"
)

# Asking how to report or what to do next ("What should I do?", "Who do I tell?", "Should I refer?"): the
# shape of a practitioner acting on a concern. A request to hide or harm that ends this way ("... so they
# don't find out, what do I do?") is caught by the harm patterns above, not let through by this.
_REPORTING = re.compile(
    r"(?:\bwhat\s+(?:do|should|must|can|shall)\s+(?:i|we)\s+do(?:\s+(?:next|now))?\s*[?.!]*\s*$"
    r"|\bwho\s+(?:do|should|must|can)\s+(?:i|we)\s+(?:tell|contact|call|ring|inform|report\s+(?:it|this)\s+to)\b"
    # Asking for someone to turn to: "who can I talk to", "where can we get advice", "is there someone I
    # can ring", "who can help".
    r"|\bwho\s+(?:do|should|must|can|could)\s+(?:i|we)\s+(?:talk|speak|turn|go)\s+to\b"
    r"|\bwhere\s+(?:do|should|can|could)\s+(?:i|we)\s+(?:get|go\s+for|find|ask\s+for)\s+(?:some\s+)?(?:help|advice|support)\b"
    r"|\bis\s+there\s+(?:someone|anyone|somebody|anybody)\s+(?:i|we)\s+(?:can|could|should)\s+(?:talk|speak|ring|call|contact)\b"
    r"|\bwho\s+(?:can|could)\s+help\b"
    r"|\bwhat\s+(?:are|is)\s+(?:my|our|the)\s+next\s+steps?\b"
    r"|\bwhat\s+happens\s+(?:next|now)\b"
    r"|\bshould\s+(?:i|we)\s+(?:refer|report|make\s+a\s+referral)\b"
    r"|\bhow\s+do\s+(?:i|we)\s+(?:refer|report|make\s+a\s+referral)\b)",
    re.IGNORECASE,
)
# Asking how, when or whether a safeguarding duty is done (record a disclosure, refer, share information),
# what someone in a role should do, or how to recognise harm ("how to spot signs of neglect").
_DUTY_ASKED = re.compile(
    rf"^\s*(?:how|when|where|can|could|should|must|may|do|does|is|who)\b.{{0,60}}\b(?:{_DUTY})"
    r"|\bwhat\s+(?:should|must|do|does|can)\s+(?:a|an|the|our|my)\s+(?:[\w-]+\s+){0,3}do\b"
    r"|\bhow\s+(?:do|can|should|would|to)\s+(?:i\s+|we\s+|you\s+|staff\s+)?(?:spot|recognise|recognize|identify|"
    r"notice|pick\s+up\s+on)\s+(?:the\s+)?(?:early\s+|possible\s+|warning\s+)?(?:signs?|indicators?|symptoms?|abuse|"
    r"neglect|grooming|exploitation|radicali[sz]ation|self-harm|fgm)\b",
    re.IGNORECASE,
)


# Words of keeping something from the people who protect children: with them, naming a duty does not
# count as asking how to do it ("how to stop my son from telling the police").
_EVASION = re.compile(
    r"\b(?:stop|prevent|avoid|hide|hiding|cover\w*\s+up|secret\w*|delete|lie|lying|away\s+from|keep\w*\s+\w+\s+away"
    r"|nobody|no\s+one|disappear\w*|vanish\w*|get\s+rid\s+of|withdraw\w*"
    r"|(?:not|never|don't|doesn't|without)\s+(?:\w+\s+){0,3}(?:know\w*|find\w*\s+out|notic\w*|tell\w*|see\w*))\b",
    re.IGNORECASE,
)


def asks_how_to_report(text: str) -> bool:
    """True if the message asks what to do about a concern or whom to tell, or how a safeguarding duty is
    done (and asks to keep nothing from anyone)."""
    if _REPORTING.search(text) is not None:
        return True
    return _DUTY_ASKED.search(text) is not None and _EVASION.search(text) is None
