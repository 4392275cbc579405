"""Induction quizzes for trainers, each question grounded in one paragraph.

- ``builder``: questions from timescale rules and paragraphs, checked against their source;
- ``store``: saved quizzes;
- ``export``: Moodle GIFT and XML, CSV, XLSX and a printable sheet;
- ``cli``: the ``safeguide quiz`` command.
"""
