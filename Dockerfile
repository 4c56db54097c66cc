# cac311 application image: FastAGI server, AMI tracker, agent desktop and dialer.
FROM python:3.11-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng sox postgresql-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY cac311 cac311
COPY case_core case_core
COPY ivr ivr
COPY ami ami
COPY asterisk_sim asterisk_sim
COPY agent_desktop agent_desktop
COPY recordings recordings
COPY dialer dialer
RUN pip install --no-cache-dir .

RUN useradd --system --home /app cac311 && mkdir -p /var/lib/cac311 && chown cac311 /var/lib/cac311
USER cac311
EXPOSE 4573 8080
CMD ["sh", "-c", "cac311 db upgrade && cac311 serve"]
