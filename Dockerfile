# The one Piloto image: every Cloud Run service runs it, FUNCTION_TARGET picks the function
# (functions/<target>/main.py) and FUNCTION_SIGNATURE_TYPE how it is served (http or cloudevent);
# Terraform sets both per service (terraform/modules/piloto/run.tf).

FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/piloto
WORKDIR /src
COPY pyproject.toml README.md ./
COPY shared ./shared
RUN /opt/piloto/bin/pip install --quiet .

FROM python:3.11-slim

ENV PATH=/opt/piloto/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8080

RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin piloto
COPY --from=build /opt/piloto /opt/piloto
WORKDIR /app
COPY functions ./functions

USER piloto
EXPOSE 8080

# Cloud Run probes the port itself (startup probe); a Docker HEALTHCHECK is never run there.
HEALTHCHECK NONE

# exec: functions-framework is PID 1 and gets Cloud Run's SIGTERM.
CMD ["/bin/sh", "-c", ": \"${FUNCTION_TARGET:?set FUNCTION_TARGET to a folder of functions/}\" \"${FUNCTION_SIGNATURE_TYPE:?set FUNCTION_SIGNATURE_TYPE to http or cloudevent}\"; exec functions-framework --target=\"$FUNCTION_TARGET\" --source=\"functions/$FUNCTION_TARGET/main.py\" --signature-type=\"$FUNCTION_SIGNATURE_TYPE\" --port=\"$PORT\""]
