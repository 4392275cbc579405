"""Ingest: load documents → parse paragraphs → chunk → embed → store (build aside, then switch)."""
