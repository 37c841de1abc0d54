#!/bin/sh
# Replay the fuzz corpus through the parser (a crash fails the test).
exec "${top_builddir:-.}/tests/fuzz/fuzz_http" "${top_srcdir:-.}"/tests/fuzz/corpus/*
