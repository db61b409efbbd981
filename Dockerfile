# ECG Review application image: the same image runs web (gunicorn), worker and beat.
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    VAR_DIR=/var/lib/ecgreview \
    STATIC_ROOT=/app/staticfiles

RUN useradd --system --create-home --home-dir /home/ecgreview ecgreview \
    && mkdir -p /var/lib/ecgreview && chown ecgreview:ecgreview /var/lib/ecgreview

# pg_dump and pg_restore for manage.py backup and the restore (bookworm's client is 15, as compose's server).
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
# --build-arg ONNXRUNTIME=onnxruntime-gpu builds the image of a models worker with an NVIDIA GPU (the openecg
# provider's "execution": "cuda", docs/scaling.md): the same onnxruntime version, built for CUDA 13, with
# the CUDA and cuDNN libraries from their nvidia-* wheels. Both packages install the module onnxruntime,
# so the CPU one goes first.
ARG ONNXRUNTIME=onnxruntime
RUN if [ "$ONNXRUNTIME" = "onnxruntime-gpu" ]; then \
      version="$(sed -n 's/^onnxruntime==//p' requirements.txt)" \
      && pip uninstall -y onnxruntime \
      && pip install "onnxruntime-gpu[cuda,cudnn]==$version"; \
    elif [ "$ONNXRUNTIME" != "onnxruntime" ]; then echo "ONNXRUNTIME: onnxruntime or onnxruntime-gpu" >&2; exit 1; fi

COPY manage.py ./
COPY ecgreview ./ecgreview
COPY annotations ./annotations
COPY templates ./templates
COPY static ./static

# collectstatic needs settings but no database; the key below is only for this build step.
RUN DEBUG=0 SECRET_KEY=collectstatic-only-build-step-key-not-used-at-run-time-xxxxxxxx \
    ALLOWED_HOSTS=localhost python manage.py collectstatic --no-input

USER ecgreview
EXPOSE 8000
CMD ["gunicorn", "ecgreview.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
