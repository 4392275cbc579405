"""Induction quizzes for trainers, each question grounded in one paragraph.

- ``questions``: what a question and a quiz request are, and the checks every question must pass;
- ``candidates``: candidate questions from timescale rules, roles, definitions and edition changes;
- ``builder``: a quiz from the candidates (seeded, interleaved by kind, each checked, optionally reworded);
- ``options``: plausible wrong answers and a question's options assembled;
- ``store``: saved quizzes;
- ``export``: Moodle GIFT and XML, CSV, XLSX and a printable sheet;
- ``cli``: the ``safeguide quiz`` command.
"""
