# Slim production image: non-root, gunicorn via `uniview-idm serve`, health-checked.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY portal_adapter ./portal_adapter
COPY scim_server ./scim_server
COPY auth ./auth
RUN pip install . \
    && useradd --create-home --uid 10001 uniview \
    && mkdir -p /app/instance \
    && chown uniview /app/instance

USER uniview
EXPOSE 8000
# UNIVIEW_SECRET_KEY and UNIVIEW_DATABASE_URL must be provided at run time.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
CMD ["uniview-idm", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "4"]
