# Production image: gunicorn (WSGI) for the web, the same image for Celery worker and beat.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# WeasyPrint needs Pango; fonts-dejavu-core gives the PDFs their typeface.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
    libharfbuzz-subset0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY . .
RUN pip install --no-cache-dir -c constraints.txt . \
 && SECRET_KEY=build DATABASE_URL=postgres://build/build REDIS_URL=redis://build ALLOWED_HOSTS=build \
    python manage.py collectstatic --noinput \
 && useradd --system --home /app patchops && mkdir -p /app/media && chown patchops /app/media
USER patchops
EXPOSE 8000
CMD ["gunicorn", "patchops.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
