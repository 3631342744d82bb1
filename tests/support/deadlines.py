"""How long the tests wait for a process to start or finish before calling it hung.

A CLI run or a worker's start-up takes seconds of CPU (Kiwi's model, the BM25 index); on a
2-core machine under load that becomes a minute or more of wall time. The deadline only tells
a hang from slowness, so it is generous: a test never asserts that something was fast.
"""

PROCESS_SECONDS = 600.0
