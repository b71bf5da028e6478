# syntax=docker/dockerfile:1
# The Conveyor image: one image, four programs (producer, worker, control, dashboard).
#   docker build -t conveyor .
#   docker run --rm --init conveyor worker --uri amqp://user:pass@broker:5672/
#   docker run --rm conveyor producer publish --type noop --uri …
#   docker run --rm conveyor control status --uri …
# (docker-compose.yml runs it with init: true; with plain `docker run`, pass --init so that the
# orphaned children of `exec` tasks are reaped.)

# ---- build: the shaded jars -------------------------------------------------------------
FROM maven:3.9-eclipse-temurin-21 AS build
WORKDIR /src
# The POMs first: this layer and the dependency cache below survive source-only changes.
COPY pom.xml ./
COPY api/pom.xml api/
COPY picocli/pom.xml picocli/
COPY protocol/pom.xml protocol/
COPY testkit/pom.xml testkit/
COPY producer/pom.xml producer/
COPY worker/pom.xml worker/
COPY control/pom.xml control/
COPY dashboard/pom.xml dashboard/
COPY e2e/pom.xml e2e/
COPY api/src api/src
COPY protocol/src protocol/src
COPY testkit/src testkit/src
COPY producer/src producer/src
COPY worker/src worker/src
COPY control/src control/src
COPY dashboard/src dashboard/src
# ~/.m2 is a BuildKit cache mount: dependencies are downloaded once, not on every source change.
# Only the programs and what they need are built (the e2e tests are not part of the image).
# The shaded jars are <program>/target/<program>-all.jar; the image calls them /app/<program>.jar.
RUN --mount=type=cache,target=/root/.m2,sharing=locked \
    mvn -B -q -DskipTests -pl producer,worker,control,dashboard -am package \
 && mkdir -p /out \
 && for p in producer worker control dashboard; do cp "$p/target/$p-all.jar" "/out/$p.jar"; done

# ---- runtime: a JRE, the jars, the launchers; no build tools ----------------------------------
FROM eclipse-temurin:21-jre
# curl: the compose health check of the worker (GET /health).
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 conveyor \
 && useradd --system --uid 10001 --gid conveyor --create-home --home-dir /home/conveyor \
      --shell /usr/sbin/nologin conveyor
WORKDIR /app
COPY --from=build /out/ /app/
COPY bin/ /app/bin/
COPY deploy/docker-entrypoint.sh /app/docker-entrypoint.sh
# The launchers take the jars from here instead of building them, and the JDK from JAVA_HOME.
ENV CONVEYOR_JAR_DIR=/app \
    CONVEYOR_JAVA_OPTS="-XX:MaxRAMPercentage=75" \
    CONVEYOR_CDS_DIR=/app/cds
# Class-data-sharing archives (bin/lib/common.sh), made now by one training run of each program
# through its launcher, so that every container starts from them. There is no broker at build
# time, so each run goes as far as a real start goes without one: options parsed, configuration
# read, logging up, the AMQP client connecting (to a closed port, exit 3), the error reported.
# That covers most of the classes of a start; what a run loads later is loaded as usual. /app/cds
# stays root's: at run time the launchers only map the archives.
RUN mkdir -p /app/cds \
 && for p in producer worker control; do \
      case $p in \
        producer) args="publish --type noop" ;; \
        worker) args="--name cds-training" ;; \
        control) args="status --timeout 1s" ;; \
      esac; \
      "/app/bin/$p" $args --uri amqp://127.0.0.1:1 >/dev/null 2>&1; \
      ls /app/cds/"$p"-*.jsa >/dev/null || { echo "no CDS archive for $p" >&2; exit 1; }; \
    done \
 && chmod -R a+rX /app/cds
USER conveyor
# A writable working directory for `exec` tasks.
WORKDIR /home/conveyor
# 9400: the worker's /metrics and /health (--metrics-port 9400 --metrics-bind 0.0.0.0; the worker
# listens on 127.0.0.1 only unless told otherwise)
EXPOSE 9400
# 8080: the dashboard (--bind 0.0.0.0 in a container; it listens on 127.0.0.1 unless told otherwise)
EXPOSE 8080
ENTRYPOINT ["/app/docker-entrypoint.sh"]
CMD ["worker", "--help"]
