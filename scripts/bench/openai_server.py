"""The tests' fake OpenAI chat-completions server in a process of its own, so that the CPU it
spends answering is never billed to the calling process the ChatOpenAI scenario measures.

    python -m scripts.bench.openai_server   # prints its base URL, serves until stdin closes
"""

from __future__ import annotations

import sys

from tests.fake_openai import FakeOpenAI


def main() -> int:
    server = FakeOpenAI().start()
    sys.stdout.write(server.base_url + "\n")
    sys.stdout.flush()
    # The benchmark closes our stdin (or exits, which closes it too): then stop serving.
    sys.stdin.read()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
