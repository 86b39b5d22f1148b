# syntax=docker/dockerfile:1
# One image for every process of the stack (web, worker, beat, migrate);
# docker-compose.yml picks the process by overriding the command.
FROM python:3.11-slim

# DATA_DIR: the settings' default (.data in the checkout) is not writable by
# the app user. STATIC_ROOT is under it (filled at build time below, so do not
# mount a volume over it) and so is beat's schedule file.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=conceptspro.settings.production \
    DATA_DIR=/var/lib/conceptspro

# A fixed uid/gid so files written to bind mounts have a predictable owner.
RUN groupadd --system --gid 10001 conceptspro \
    && useradd --system --uid 10001 --gid conceptspro --home-dir /app \
        --shell /usr/sbin/nologin conceptspro \
    && install -d -o conceptspro -g conceptspro "$DATA_DIR"

WORKDIR /app

# psycopg[binary] and argon2-cffi ship wheels with their C parts, so the image
# needs no compiler or libpq headers.
# Installed in place (editable): the settings find templates/ and static/
# beside the code, as in a checkout.
COPY . .
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install -e .

USER conceptspro

# collectstatic only imports the settings and never connects to PostgreSQL or
# Redis, but the settings refuse to load without their URLs (and production
# refuses an empty SECRET_KEY). These values exist for this one command and are
# not baked into the image's environment.
RUN DATABASE_URL=postgres://collectstatic@localhost:5432/collectstatic \
    REDIS_URL=redis://localhost:6379/0 \
    SECRET_KEY=collectstatic-build-only \
    python manage.py collectstatic --noinput

EXPOSE 8000

CMD ["uvicorn", "conceptspro.asgi:application", "--host", "0.0.0.0", "--port", "8000"]
