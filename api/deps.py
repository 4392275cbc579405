"""Dependencies handed to routes: built once in the app's lifespan, overridable in tests."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from safeguide.chat.chain import AnswerChain
from safeguide.chat.conversations import ConversationStore
from safeguide.compare.comparer import Comparer
from safeguide.quiz.builder import QuizBuilder
from safeguide.quiz.store import QuizStore
from safeguide.retrieval.hybrid import HybridRetriever
from safeguide.settings import Settings
from safeguide.timescales.review import ReviewStore
from safeguide.timescales.rules import RuleSet


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_retriever(request: Request) -> HybridRetriever:
    retriever: HybridRetriever = request.app.state.retriever
    return retriever


def get_rules(request: Request) -> RuleSet:
    rules: RuleSet = request.app.state.rules
    return rules


def get_chain(request: Request) -> AnswerChain:
    chain: AnswerChain = request.app.state.chain
    return chain


def get_conversations(request: Request) -> ConversationStore:
    store: ConversationStore = request.app.state.conversations
    return store


def get_quiz_builder(request: Request) -> QuizBuilder:
    builder: QuizBuilder = request.app.state.quiz_builder
    return builder


def get_quizzes(request: Request) -> QuizStore:
    store: QuizStore = request.app.state.quizzes
    return store


def get_reviews(request: Request) -> ReviewStore:
    store: ReviewStore = request.app.state.reviews
    return store


def get_comparer(request: Request) -> Comparer:
    comparer: Comparer = request.app.state.comparer
    return comparer


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
ChainDep = Annotated[AnswerChain, Depends(get_chain)]
ConversationsDep = Annotated[ConversationStore, Depends(get_conversations)]
RulesDep = Annotated[RuleSet, Depends(get_rules)]
RetrieverDep = Annotated[HybridRetriever, Depends(get_retriever)]
ComparerDep = Annotated[Comparer, Depends(get_comparer)]
QuizBuilderDep = Annotated[QuizBuilder, Depends(get_quiz_builder)]
QuizStoreDep = Annotated[QuizStore, Depends(get_quizzes)]
ReviewStoreDep = Annotated[ReviewStore, Depends(get_reviews)]
