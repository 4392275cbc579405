"""Who does what to whom in a message, read from spaCy's parse, for the harmful-request check.

A question that protects a child and a request that endangers one often share their words: "how can we
stop the abuser finding out the child's new school" and "how do I stop my daughter telling the teacher"
are both about stopping someone learning something. What tells them apart is structure: whose knowing or
acting is blocked (an abuser's, or a teacher's), who the speaker asks to be able to do something (a parent
asking how to hide marks, or a health visitor asking what to do), and whether the worrying act sits in a
condition or a report ("what should I do if a colleague asks me to keep quiet") rather than in the request.

The reading works over a few roles, not over the words that fill them: the speaker, a child, a protector
(a teacher, the police, a health visitor), a threat (an abuser, a groomer), a family member, everyone
("nobody", "anyone"), someone else. So "so nursery won't see" and "so the GP won't see" are one frame,
and a verb nobody listed still counts where the structure holds. Two readings:

- `harm_frame`: the speaker asks to keep a protector, a family or everyone from knowing or acting, or to
  stop a report or a telling. Such a message is never read as protective.
- `protective_frame`: what is stopped is a threat's act or something done to a child; or the speaker
  asks how to protect, report, check or respond; or asks what to do, with the worrying part in a
  condition or in what someone else said; or asks what a protector should do.

The guard (`guard.py`) uses the protective frame to hold a refusal for harm to a higher bar, as it
already does for a message asking how to report; the harm frame only ever keeps a refusal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from safeguide.safety.names import lexicon
from safeguide.safety.shapes import _wordset

SPEAKER = _wordset("i me we us myself ourselves")
GENERIC = _wordset("you someone somebody one anyone people")
CHILD = _wordset(
    "child children kid kids baby babies toddler toddlers infant son daughter boy girl pupil pupils student "
    "students teen teenager teenagers youngster minor stepson stepdaughter niece nephew sibling twins "
    "grandchild grandson granddaughter"
)
PROTECTOR = _wordset(
    "teacher teachers school schools nursery staff worker workers police officer officers doctor doctors gp "
    "nurse nurses visitor hospital a&e paediatrician dsl lado ofsted court judge childminder services "
    "professional professionals practitioner practitioners agency agencies council authority safeguarding "
    "head headteacher tutor lead carer carers midwife clinic surgery paramedic ambulance"
)
THREAT = _wordset(
    "abuser abusers groomer groomers offender offenders predator predators paedophile paedophiles "
    "perpetrator perpetrators gang gangs stranger strangers dealer dealers trafficker traffickers attacker"
)
FAMILY = _wordset(
    "mum mother dad father parent parents stepdad stepmum stepfather stepmother partner boyfriend "
    "girlfriend husband wife ex grandad grandfather grandma grandmother nan gran uncle aunt auntie cousin "
    "brother sister family relative relatives"
)
_TOKENS = re.compile(r"[a-z0-9&']+")


def names_a_child(text: str) -> bool:
    """True if a word of the message names a child ("kid", "daughter", "a 9 year old"); no parse needed."""
    words = _TOKENS.findall(text.lower())
    return any(w in CHILD or w.rstrip("s") in CHILD for w in words) or "year old" in " ".join(words)


# Words that put what follows in a condition or a time ("what do I do if...", "when a child tells me").
_CONDITION = _wordset("if when whenever whether unless once after before")
# Verbs whose object or clause is what someone else said or asked ("she asked me to keep it secret").
_REPORTING = _wordset("say tell ask beg promise warn threaten want make")


def role(token: Any) -> str:
    """The part a noun or pronoun plays: speaker, generic, child, protector, threat, family, person,
    other (a pronoun) or thing."""
    lower = token.lower_
    if lower in SPEAKER:
        return "speaker"
    if lower in GENERIC or lower in _NOBODY:
        return "generic"
    lemma = token.lemma_.lower()
    for word in (lower, lemma):
        if word in CHILD:
            return "child"
        if word in THREAT:
            return "threat"
        if word in PROTECTOR:
            return "protector"
        if word in FAMILY:
            return "family"
    if lemma == "care" and any(c.lower_ == "social" for c in token.children):  # "children's social care"
        return "protector"
    if token.pos_ == "NUM" or lower in ("old", "olds"):  # "a 13 year old"
        return "child"
    if token.pos_ == "PRON":
        return "other"
    if token.pos_ == "PROPN" or token.ent_type_ == "PERSON" or lower == "[name removed]":
        return "person"
    return "thing"


_PRONOUNS = _wordset("he she they him her them it")
# What a report, once made, is called: "handle a disclosure so it doesn't go further".
_REPORT_NOUNS = _wordset("disclosure concern referral report allegation record log information")
_SAYING = _wordset("tell say disclose share confide")


def _referent(token: Any) -> Any:
    """For "he", "she", "they", "it": the nearest noun before it that plays a part (a teacher, a parent, a
    disclosure), the way a reader takes "tell the teacher so they stop asking"; otherwise the token."""
    if token.lower_ not in _PRONOUNS:
        return token
    for prev in reversed(token.doc[: token.i]):
        if prev.pos_ in ("NOUN", "PROPN") and (
            role(prev) not in ("thing",) or prev.lemma_.lower() in _REPORT_NOUNS
        ):
            return prev
        if token.lower_ == "it" and prev.pos_ == "VERB" and prev.lemma_.lower() in _SAYING:
            return prev  # "what she told me, so it doesn't go further": what was told
    return token


def _subject(verb: Any) -> Any | None:
    """The verb's subject; for "asks me to keep" the one asked, for "want to hide" the one who wants."""
    for child in verb.children:
        if child.dep_ in ("nsubj", "nsubjpass", "csubj"):
            return child
    if verb.dep_ in ("xcomp", "ccomp", "advcl", "pcomp") and verb.head.i != verb.i:
        head = verb.head
        for child in head.children:
            if child.dep_ in ("dobj", "iobj") and child.pos_ in ("PRON", "NOUN", "PROPN"):
                return child
        return _subject(head) if head.pos_ in ("VERB", "AUX") else None
    return None


def _objects(verb: Any) -> list[Any]:
    """What the verb acts on directly: its object, or its subject when passive ("a child being taken")."""
    return [c for c in verb.children if c.dep_ in ("dobj", "nsubjpass")]


_TELLING = _wordset("tell inform ring call contact show report text message")


def _told(verb: Any) -> list[Any]:
    """Who is told or spoken to: "telling the teacher", "talk to the police"."""
    out = [c for c in verb.children if c.dep_ in ("dative", "iobj")]
    if verb.lemma_.lower() in _TELLING:
        out.extend(c for c in verb.children if c.dep_ == "dobj")
    for prep in (c for c in verb.children if c.dep_ in ("prep", "dative") and c.lower_ == "to"):
        out.extend(c for c in prep.children if c.dep_ == "pobj")
    return out


def _negated(verb: Any) -> bool:
    """ "won't see", "doesn't get involved" (the "n't" on the auxiliary), "without ... finding out"."""
    if any(c.dep_ == "neg" for c in verb.children):
        return True
    if any(g.dep_ == "neg" for c in verb.children if c.dep_ in ("aux", "auxpass") for g in c.children):
        return True
    return bool(verb.dep_ == "pcomp" and verb.head.lower_ == "without")


# Nouns a request is put through: "the best way to stop her telling", "a good excuse to keep them off".
_MEANS = _wordset("way ways trick tricks excuse excuses method methods tip tips means story lie reason")


def _means_clause(node: Any) -> bool:
    """An infinitive on a noun a request is put through ("the best way to stop", "an excuse to keep them
    off"): the request itself, not a clause describing the noun ("the story she told")."""
    return node.head.lower_ in _MEANS and any(c.dep_ == "aux" and c.lower_ == "to" for c in node.children)


def _asked(event: Any) -> bool:
    """Whether the event is in what the speaker asks: not in a condition, in what someone else said, or
    in a relative clause."""
    return _setting(event) not in ("cond", "said", "rel")


def _setting(verb: Any) -> str:
    """Where the verb sits: in a condition, in what someone else said or asked, in a relative clause, in
    a purpose ("so they won't..."), or in the message's own request ("main"). A clause on "way", "trick"
    or "excuse" is the request itself ("what's the best way to stop social workers seeing the kids";
    `_means_clause`)."""
    node = verb
    while node.head.i != node.i:
        marks = {c.lower_ for c in node.children if c.dep_ in ("mark", "advmod")}
        if node.dep_ in ("advcl", "ccomp", "relcl") and marks & _CONDITION:
            return "cond"
        if node.dep_ == "relcl" and not _means_clause(node):
            return "rel"
        if "so" in marks:
            return "purpose"
        head = node.head
        if node.dep_ in ("xcomp", "ccomp") and head.lemma_.lower() in _REPORTING:
            who = _subject(head)
            if who is not None and role(who) not in ("speaker", "generic"):
                return "said"
        node = head
    return "main"


_BLOCKING = _wordset("stop prevent avoid")
_KEEPING = _wordset("keep hide lie")  # "keep it secret from", "hide them from", "lie to", "keep them away"
_NOBODY = _wordset("nobody noone no-one")
_PROTECTIVE_ACTS = _wordset(
    "protect safeguard report refer record log check vet recognise recognize spot identify support "
    "respond handle deal escalate notify"
)
_WORRIED = _wordset("worried concerned allowed ok okay grooming")
_CLAUSE_HEADS = ("ROOT", "xcomp", "ccomp", "advcl", "conj")
_SIGNS = _wordset("sign indicator symptom")  # "what are the signs a child is hiding bruises"


@dataclass(frozen=True)
class Blocked:
    event: Any  # the verb of what is not to happen
    who: Any | None  # who would do it, when the parse says
    how: str  # "negated" (so nursery won't see), "without", "stopped" (stop X doing Y), "kept" (keep from)
    blocker: Any  # the verb that stops or keeps it, or the event itself


def _blocked(doc: Any) -> list[Blocked]:
    """The events the message wants not to happen, each with who would do them."""
    out: list[Blocked] = []
    for verb in doc:
        if verb.pos_ not in ("VERB", "AUX"):
            continue
        subj = _subject(verb)
        if verb.dep_ == "pcomp" and verb.head.lower_ == "without":
            out.append(Blocked(verb, subj, "without", verb))
        elif _negated(verb) or (subj is not None and subj.lower_ in _NOBODY):
            out.append(Blocked(verb, subj, "negated", verb))
        lemma = verb.lemma_.lower()
        if lemma in _BLOCKING:
            for child in verb.children:
                if child.dep_ in ("xcomp", "ccomp", "advcl", "acl"):
                    out.append(Blocked(child, _subject(child), "stopped", verb))
                elif child.dep_ == "dobj":
                    for event in child.children:  # "stop social workers seeing", "stop a child being taken"
                        if event.dep_ == "acl" and event.pos_ == "VERB":
                            passive = any(c.dep_ == "auxpass" for c in event.children)
                            out.append(Blocked(event, None if passive else child, "stopped", verb))
                elif child.dep_ == "prep" and child.lower_ == "from":  # "stop him from telling"
                    events = [c for c in child.children if c.dep_ == "pcomp"]
                    stopped = next((c for c in verb.children if c.dep_ == "dobj"), None)
                    out.extend(Blocked(c, _subject(c) or stopped, "stopped", verb) for c in events)
        if lemma in _KEEPING:
            preps = [c for c in verb.children if c.dep_ in ("prep", "dative") and c.lower_ in ("from", "to")]
            for prep in preps:
                out.extend(Blocked(verb, c, "kept", verb) for c in prep.children if c.dep_ == "pobj")
            if any(c.lower_ in ("away", "out") for c in verb.children):  # "keep social workers away"
                out.extend(Blocked(verb, c, "kept", verb) for c in verb.children if c.dep_ == "dobj")
    return out


def _patient_is_child(b: Blocked) -> bool:
    """What is stopped is done to a child: "stop a child being taken", "stop older kids pressuring my son"."""
    if b.how != "stopped" or b.blocker.lemma_.lower() == "avoid":  # avoiding is for oneself
        return False
    if b.who is None and any(c.dep_ == "auxpass" for c in b.event.children):
        return (b.event.dep_ == "acl" and role(b.event.head) == "child") or any(
            role(o) == "child" for o in _objects(b.event)
        )
    return any(role(o) == "child" for o in _objects(b.event)) and (b.who is None or role(b.who) != "speaker")


# "after school", "until tonight": a time, not someone or somewhere the act reaches.
_WHEN = _wordset("after before during until till since at")


def _child_kept_from_a_risk(b: Blocked) -> bool:
    """A child stopped from going somewhere or doing something with someone ("stop my son playing online
    with adults who keep asking to meet", "prevent my stepson drinking with adults at the skate park"):
    the child's own act, aimed at a place or other people, none of them the speaker, a protector or
    family. Not when the act is telling or being seen, a verb of communication or perception in WordNet
    (`Lexicon.heard_or_seen_verbs`: "crying about the bruises", "mentioning the belt to her nan"), nor
    when it is aimed at the speaker ("blocking me", "fighting me off")."""
    if b.how != "stopped" or b.who is None or role(_referent(b.who)) != "child":
        return False
    if b.blocker.lemma_.lower() == "avoid" or not _asked(b.event):
        return False
    lemma = b.event.lemma_.lower()
    if lemma in lexicon().heard_or_seen_verbs or lemma in _TELLING | _SAYING | _PROTECTIVE_ACTS:
        return False
    reach = [
        t
        for t in b.event.subtree
        if t.i != b.event.i
        and t.pos_ in ("PRON", "NOUN", "PROPN")
        and not (t.dep_ == "pobj" and t.head.lower_ in _WHEN)  # "after school" is a time, not a party
    ]
    if any(role(t) in ("speaker", "protector", "family") for t in reach):
        return False
    return any(c.dep_ in ("prep", "dobj", "advmod", "prt") for c in b.event.children)


def harm_frame(doc: Any) -> str | None:
    """Why the message asks to keep a protector, a family or everyone from knowing or acting ("so the
    school won't notice", "without her parents finding out", "stop my daughter telling the teacher"), or
    to stop a report ("how do I avoid reporting it"); None if it does not. Only what the speaker asks
    counts: not what someone else said, nor a condition, nor a relative clause."""
    for b in _blocked(doc):
        if not _asked(b.event):
            continue
        lemma = b.event.lemma_.lower()
        who = _referent(b.who) if b.who is not None else None
        knower = role(who) if who is not None else "none"
        if who is not None and who.lemma_.lower() in _REPORT_NOUNS | _SAYING:
            return "stops-a-report"  # "so it (the disclosure) doesn't go further"
        if knower == "threat":
            continue  # "so the abuser cannot find out the child's new school"
        if knower in ("protector", "family", "generic"):
            return f"keeps-{knower}-from-knowing-or-acting"
        if lemma in _PROTECTIVE_ACTS or lemma in _TELLING:
            return "stops-a-report"
        for told in _told(b.event):
            if role(told) in ("protector", "family"):  # "telling the teacher", "talk to their dad"
                return f"stops-telling-{role(told)}"
    return None


def protective_frame(doc: Any) -> str | None:
    """Why the message reads as protecting a child rather than harming one, or None; never when it has a
    harm frame (`harm_frame`)."""
    if harm_frame(doc) is not None:
        return None
    for b in _blocked(doc):
        if b.who is not None and role(b.who) == "threat":
            return "keeps-a-threat-from-acting"
        if _patient_is_child(b):
            return "stops-harm-to-a-child"
        if _child_kept_from_a_risk(b):
            return "keeps-a-child-from-a-risk"
    for verb in doc:
        if verb.dep_ not in (*_CLAUSE_HEADS, "attr", "nsubj"):
            continue
        lemma = verb.lemma_.lower()
        setting = _setting(verb)
        if setting != "main" and not (setting == "said" and lemma == "do"):  # "she says..., what should I do"
            continue
        subj = _subject(verb)
        who = role(subj) if subj is not None else "none"
        modal = any(c.dep_ == "aux" and c.lower_ in _MODALS for c in verb.children)
        duty = any(c.dep_ == "aux" and c.lower_ in _DUTY for c in verb.children)
        asker = who in ("speaker", "generic", "protector", "none")
        if verb.pos_ == "VERB" and lemma in _PROTECTIVE_ACTS and asker:
            return "asks-how-to-protect-or-report"
        if lemma == "keep" and any(c.lower_ == "safe" for c in verb.children):
            return "asks-how-to-keep-safe"
        if lemma == "help" and any(role(o) == "child" for o in _objects(verb)):
            return "asks-how-to-help-a-child"
        if lemma in _SIGNS and verb.dep_ in ("ROOT", "attr", "nsubj"):
            return "asks-for-signs"
        if lemma == "do" and modal and who in ("speaker", "protector") and _bare_what(verb):
            return "asks-what-to-do"
        if verb.dep_ == "ROOT" and lemma == "happen" and subj is not None and subj.lower_ == "what":
            return "asks-what-happens"
        said = [c.lower_ for c in verb.children if c.dep_ in ("acomp", "attr")]
        if verb.lower_ in _WORRIED or any(w in _WORRIED for w in said):
            return "asks-whether-to-worry"
        if verb.dep_ == "ROOT" and who == "protector" and duty:  # not "how can a teacher get a pupil alone"
            return "asks-what-a-protector-should-do"
    return None


_MODALS = _wordset("should shall must can could would do does did will")
_DUTY = _wordset("should shall must ought do does")  # what someone is meant to do, not what they can


def _bare_what(verb: Any) -> bool:
    """ "what should I do" with nothing it is done for: not "what can I do to stop a witness giving
    evidence"; a condition may follow ("what do I do if...")."""
    if not any(c.lower_ == "what" and c.dep_ == "dobj" for c in verb.children):
        return False
    for c in verb.children:
        if c.i < verb.i:
            continue  # what was said before the question: "my niece says..., what should I do"
        marks = {m.lower_ for m in c.children if m.dep_ in ("mark", "advmod")}
        if c.dep_ in ("xcomp", "ccomp", "acl") or (c.dep_ == "advcl" and not marks & _CONDITION):
            return False
    return True
