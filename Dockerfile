# opmon in a container: `docker build -t xmtp-opmon .` then
#   docker run --rm xmtp-opmon bench --otlp http://HOST:4317
# No protoc is needed: build.rs compiles proto/ with protox.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --bin opmon

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/opmon /usr/local/bin/opmon
# Results go to /results when a volume is mounted there (--out /results/...).
WORKDIR /work
ENTRYPOINT ["opmon"]
CMD ["--help"]
